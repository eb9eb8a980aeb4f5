import Foundation

/// Reads and writes timestamps in the form PostgreSQL's JSON uses, to the microsecond.
///
/// Accepts `2026-11-24T21:30:47.123456+00:00`, whole seconds (`...:47+00:00`), trimmed fractions
/// (`...:47.1+05:30`), `Z`, a space instead of `T`, and offsets with seconds (`+00:53:28`).
/// Writes UTC with the fraction trimmed of trailing zeros, as PostgreSQL does:
/// `2026-11-24T21:30:47.123456+00:00`.
///
/// `Date` holds a `Double`; for present-day dates that resolves well below a microsecond, so
/// parsing and formatting round-trip exactly.
public enum PostgresTimestamp {
    /// Parses a PostgreSQL timestamp with time zone; `nil` when the text is not one.
    public static func parse(_ text: String) -> Date? {
        // Every turn carries a timestamp, so this runs once per turn read: scan the string's own
        // UTF-8 storage rather than copying it into an array first.
        var text = text
        return text.withUTF8 { parse(bytes: $0) }
    }

    private static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        var scanner = Scanner(bytes)
        guard let year = scanner.digits(exactly: 4), scanner.skip("-"),
              let month = scanner.digits(exactly: 2), scanner.skip("-"),
              let day = scanner.digits(exactly: 2),
              scanner.skip("T") || scanner.skip(" "),
              let hour = scanner.digits(exactly: 2), scanner.skip(":"),
              let minute = scanner.digits(exactly: 2), scanner.skip(":"),
              let second = scanner.digits(exactly: 2)
        else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }

        var microseconds = 0
        if scanner.skip(".") {
            var count = 0
            while let digit = scanner.digit() {
                count += 1
                guard count <= 6 else { return nil }
                microseconds = microseconds * 10 + digit
            }
            guard count > 0 else { return nil }
            for _ in count..<6 { microseconds *= 10 }
        }

        var offsetSeconds = 0
        if scanner.skip("Z") {
            offsetSeconds = 0
        } else if let sign = scanner.sign() {
            guard let offsetHours = scanner.digits(exactly: 2) else { return nil }
            var offsetMinutes = 0, offsetExtraSeconds = 0
            if scanner.skip(":") {
                guard let minutes = scanner.digits(exactly: 2) else { return nil }
                offsetMinutes = minutes
                if scanner.skip(":") {
                    guard let seconds = scanner.digits(exactly: 2) else { return nil }
                    offsetExtraSeconds = seconds
                }
            } else if let minutes = scanner.digits(exactly: 2) {
                offsetMinutes = minutes
            }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60 + offsetExtraSeconds)
        } else {
            return nil
        }
        guard scanner.isAtEnd else { return nil }

        let days = daysFromCivil(year: year, month: month, day: day)
        let unixSeconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        // One rounding step only: whole seconds relative to 2001 are exact in a Double.
        let sinceReference = Double(unixSeconds - unixToReferenceDate) + Double(microseconds) / 1_000_000
        return Date(timeIntervalSinceReferenceDate: sinceReference)
    }

    /// Formats a date as PostgreSQL does in UTC, rounded to the microsecond.
    public static func format(_ date: Date) -> String {
        let totalMicroseconds = Int64((date.timeIntervalSinceReferenceDate * 1_000_000).rounded())
        let (referenceSeconds, micros) = floorDivide(totalMicroseconds, 1_000_000)
        let unixSeconds = referenceSeconds + unixToReferenceDate
        let (days, secondOfDay) = floorDivide(unixSeconds, 86_400)
        let (year, month, day) = civilFromDays(Int(days))
        let hour = Int(secondOfDay / 3600), minute = Int(secondOfDay % 3600 / 60), second = Int(secondOfDay % 60)

        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
        if micros != 0 {
            var fraction = pad(Int(micros), 6)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "+00:00"
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms)

    private static let unixToReferenceDate: Int64 = 978_307_200

    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        var quotient = value / divisor, remainder = value % divisor
        if remainder < 0 {
            quotient -= 1
            remainder += divisor
        }
        return (quotient, remainder)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// A cursor over ASCII bytes, valid only while the buffer it reads is.
    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var isAtEnd: Bool { index == bytes.count }

        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        mutating func digit() -> Int? {
            guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { return nil }
            defer { index += 1 }
            return Int(bytes[index] - 0x30)
        }

        mutating func digits(exactly count: Int) -> Int? {
            var value = 0
            for _ in 0..<count {
                guard let digit = digit() else { return nil }
                value = value * 10 + digit
            }
            return value
        }

        mutating func sign() -> Int? {
            if skip("+") { return 1 }
            if skip("-") { return -1 }
            return nil
        }
    }
}
