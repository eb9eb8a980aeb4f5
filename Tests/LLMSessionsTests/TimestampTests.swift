import Foundation
import Testing
@testable import LLMSessions

@Suite("PostgreSQL timestamps decode and encode to the microsecond")
struct TimestampTests {
    /// Microseconds since 1970 as an integer, so comparisons are exact.
    private func unixMicroseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// 2026-11-24T21:30:47Z in seconds since 1970.
    private let base: Int64 = 1_795_555_847

    @Test("six fraction digits keep every microsecond")
    func fullFraction() throws {
        let date = try #require(PostgresTimestamp.parse("2026-11-24T21:30:47.123456+00:00"))
        #expect(unixMicroseconds(date) == base * 1_000_000 + 123_456)
        #expect(PostgresTimestamp.format(date) == "2026-11-24T21:30:47.123456+00:00")
    }

    @Test("whole seconds carry no fraction either way")
    func wholeSeconds() throws {
        let date = try #require(PostgresTimestamp.parse("2026-11-24T21:30:47+00:00"))
        #expect(unixMicroseconds(date) == base * 1_000_000)
        #expect(PostgresTimestamp.format(date) == "2026-11-24T21:30:47+00:00")
    }

    @Test("a trimmed fraction with a non-zero offset is shifted to UTC")
    func trimmedFractionWithOffset() throws {
        let date = try #require(PostgresTimestamp.parse("2026-11-24T21:30:47.1+05:30"))
        #expect(unixMicroseconds(date) == (base - 5 * 3600 - 30 * 60) * 1_000_000 + 100_000)
        #expect(PostgresTimestamp.format(date) == "2026-11-24T16:00:47.1+00:00")
    }

    @Test("negative offsets, offsets with seconds, Z and a space separator")
    func otherOffsets() throws {
        let utc = try #require(PostgresTimestamp.parse("2026-11-24T21:30:47.000001Z"))
        #expect(unixMicroseconds(utc) == base * 1_000_000 + 1)
        let west = try #require(PostgresTimestamp.parse("2026-11-24 13:30:47.5-08"))
        #expect(unixMicroseconds(west) == base * 1_000_000 + 500_000)
        let lmt = try #require(PostgresTimestamp.parse("1890-01-01T00:00:00+00:53:28"))
        #expect(PostgresTimestamp.format(lmt) == "1889-12-31T23:06:32+00:00")
    }

    @Test("formatting then parsing is the identity for every microsecond in a range",
          arguments: [0, 1, 9, 10, 999_999, 123_456, 500_000, 654_321])
    func roundTrip(micros: Int64) throws {
        for seconds in [base, base + 86_399, 946_684_800 /* 2000-01-01 */, 4_102_444_799 /* 2099-12-31 */] {
            let date = Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
            let text = PostgresTimestamp.format(date)
            let parsed = try #require(PostgresTimestamp.parse(text), "\(text)")
            #expect(unixMicroseconds(parsed) == seconds * 1_000_000 + micros, "\(text)")
            #expect(PostgresTimestamp.format(parsed) == text)
        }
    }

    @Test("malformed timestamps are rejected", arguments: [
        "", "2026-11-24", "2026-11-24T21:30:47", "2026-11-24T21:30:47.+00:00", "2026-11-24T21:30:47.1234567+00:00",
        "2026-13-24T21:30:47+00:00", "2026-11-24T21:30:47+00:00 ", "26-11-24T21:30:47+00:00", "2026-11-24T25:30:47+00:00",
    ])
    func malformed(text: String) {
        #expect(PostgresTimestamp.parse(text) == nil)
    }

    @Test("the shared decoder reads dates in models and names the field that fails")
    func decoderNamesFailingField() throws {
        let json = #"{"seq": 1, "question": "q", "response": "r", "tokens": 3, "metadata": {}, "request_id": null, "timestamp": "yesterday"}"#
        do {
            _ = try SessionJSON.decode(Turn.self, from: json)
            Issue.record("a bad timestamp decoded")
        } catch let error as ResponseDecodingError {
            #expect(error.type == "Turn")
            #expect(error.field == "timestamp")
            #expect(error.description.contains("yesterday"))
        }

        let wrongType = #"{"seq": "one", "question": "q", "response": "r", "tokens": 3, "metadata": {}, "request_id": null, "timestamp": "2026-11-24T21:30:47+00:00"}"#
        #expect(throws: ResponseDecodingError.self) { try SessionJSON.decode(Turn.self, from: wrongType) }
        do {
            _ = try SessionJSON.decode([Turn].self, from: "[\(wrongType)]")
        } catch let error as ResponseDecodingError {
            #expect(error.field == "[0].seq")
            #expect(error.reason.contains("Int"))
        }
    }

    @Test("the shared encoder writes dates as PostgreSQL does, so models round-trip")
    func encoderRoundTrip() throws {
        let json = #"{"seq": 2, "question": "q", "response": "r", "tokens": 3, "metadata": {"n": 9007199254740993}, "request_id": "x", "timestamp": "2026-11-24T21:30:47.123456+00:00"}"#
        let turn = try SessionJSON.decode(Turn.self, from: json)
        let encoded = String(decoding: try SessionJSON.makeEncoder().encode(turn), as: UTF8.self)
        #expect(encoded.contains(#""timestamp":"2026-11-24T21:30:47.123456+00:00""#))
        #expect(encoded.contains(#""request_id":"x""#))
        #expect(try SessionJSON.decode(Turn.self, from: encoded) == turn)
    }
}
