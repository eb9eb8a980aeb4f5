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
