import ArgumentParser
import Foundation
import LLMSessions

/// A duration given as `90s`, `15m`, `1h`, `7d` or a sum such as `1h30m`.
struct IdleDuration: ExpressibleByArgument, CustomStringConvertible, Sendable {
    /// Whole seconds, always positive.
    var seconds: Int64

    init(seconds: Int64) { self.seconds = seconds }

    init?(argument: String) {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var total: Int64 = 0
        var number = ""
        for character in argument.lowercased() {
            if character.isASCII, character.isNumber {
                number.append(character)
            } else if let unit = units[character], let value = Int64(number) {
                let (product, overflow1) = value.multipliedReportingOverflow(by: unit)
                let (sum, overflow2) = total.addingReportingOverflow(product)
                guard !overflow1, !overflow2 else { return nil }
                total = sum
                number = ""
            } else {
                return nil
            }
        }
        guard number.isEmpty, total > 0 else { return nil }
        seconds = total
    }

    var duration: Duration { .seconds(seconds) }

    /// The shortest spelling: `1h`, `90s`, `1h30m`.
    var description: String {
        var rest = seconds
        var parts: [String] = []
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            parts.append("\(rest / size)\(unit)")
            rest %= size
        }
        return parts.joined()
    }

    static var defaultValueDescription: String { "1h" }
}

/// Timestamps as the SQL layer writes them: `2026-11-24T21:30:47.123456+00:00`.
enum Timestamp {
    /// Formats a date in UTC with microseconds, trailing zeros trimmed, none at whole seconds.
    static func string(from date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = (micros / 1_000_000).rounded(.down)
        var fraction = Int(micros - seconds * 1_000_000)
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        if fraction > 0 {
            var digits = 6
            while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
            text += "." + String(repeating: "0", count: digits - String(fraction).count) + String(fraction)
        }
        return text + "+00:00"
    }

    /// Parses `YYYY-MM-DD[T ]HH:MM:SS[.ffffff][Z|±HH[:MM]]`; no offset means UTC.
    static func date(from text: String) -> Date? {
        let pattern = #"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$"#
        guard let regex = try? NSRegularExpression(pattern: pattern),
            let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
        else { return nil }
        func group(_ index: Int) -> String? {
            Range(match.range(at: index), in: text).map { String(text[$0]) }
        }
        let numbers = (1...6).compactMap { group($0).flatMap(Int.init) }
        guard numbers.count == 6 else { return nil }
        var parts = tm()
        parts.tm_year = Int32(numbers[0] - 1900)
        parts.tm_mon = Int32(numbers[1] - 1)
        parts.tm_mday = Int32(numbers[2])
        parts.tm_hour = Int32(numbers[3])
        parts.tm_min = Int32(numbers[4])
        parts.tm_sec = Int32(numbers[5])
        guard (1...12).contains(numbers[1]), (1...31).contains(numbers[2]), numbers[3] < 24,
            numbers[4] < 60, numbers[5] < 61
        else { return nil }
        var seconds = Double(timegm(&parts))
        if let digits = group(7) {
            let micros = Int(digits.prefix(6).padding(toLength: 6, withPad: "0", startingAt: 0)) ?? 0
            seconds += Double(micros) / 1_000_000
        }
        if let offset = group(8), offset != "Z" {
            let sign: Double = offset.hasPrefix("-") ? -1 : 1
            let digits = offset.dropFirst().filter(\.isNumber)
            let hours = Double(digits.prefix(2)) ?? 0
            let minutes = digits.count > 2 ? Double(digits.suffix(2)) ?? 0 : 0
            seconds -= sign * (hours * 3600 + minutes * 60)
        }
        return Date(timeIntervalSince1970: seconds)
    }
}

/// Parses a `--metadata` value: it must be a JSON object.
func parseMetadata(_ text: String?) throws -> JSONValue {
    guard let text else { return [:] }
    let value: JSONValue
    do {
        value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    } catch {
        throw ValidationError("--metadata is not valid JSON: \(text)")
    }
    guard case .object = value else {
        throw ValidationError("--metadata must be a JSON object, e.g. '{\"source\": \"cli\"}'")
    }
    return value
}

/// Rejects an empty or blank text argument with a usage error.
func requireText(_ value: String?, _ name: String) throws {
    if let value, value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
        throw ValidationError("\(name) must not be blank")
    }
}
