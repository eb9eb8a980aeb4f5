import Foundation
import Testing
@testable import LLMSessions

@Suite("JSONValue: free-form metadata")
struct JSONValueTests {
    @Test("integers stay exact, doubles stay doubles")
    func numbers() throws {
        let value = try SessionJSON.decode(JSONValue.self, from: #"{"big": 9007199254740993, "min": -9223372036854775808, "pi": 3.25, "huge": 1e300}"#)
        #expect(value["big"] == .integer(9_007_199_254_740_993))
        #expect(value["min"] == .integer(Int64.min))
        #expect(value["pi"] == .number(3.25))
        #expect(value["huge"] == .number(1e300))
        let encoded = try SessionJSON.encode(value)
        #expect(encoded.contains("9007199254740993"))
        #expect(try SessionJSON.decode(JSONValue.self, from: encoded) == value)
    }

    @Test("every JSON type decodes to its case and literals build the same values")
    func allCases() throws {
        let value = try SessionJSON.decode(JSONValue.self, from: #"{"n": null, "t": true, "f": false, "s": "x/y", "a": [1, "two", [3]], "o": {"k": {}}}"#)
        let expected: JSONValue = ["n": nil, "t": true, "f": false, "s": "x/y", "a": [1, "two", [3]], "o": ["k": [:]]]
        #expect(value == expected)
        #expect(value["s"]?.stringValue == "x/y")
        #expect(value["a"]?.stringValue == nil)
        #expect(try SessionJSON.encode(value).contains(#""s":"x/y""#), "slashes are not escaped")
    }

    @Test("NUL is found in nested strings and keys")
    func nulDetection() {
        #expect(!(["a": ["b", 1, nil]] as JSONValue).containsNUL)
        #expect((["a": ["b\u{0}", 1]] as JSONValue).containsNUL)
        #expect((["a\u{0}": 1] as JSONValue).containsNUL)
    }

    @Test("a conflict's DETAIL yields both counts; anything else yields none")
    func conflictDetail() {
        let parsed = SessionStoreError.parseConflictDetail("expected_turn_count=3 actual_turn_count=5")
        #expect(parsed?.expected == 3)
        #expect(parsed?.actual == 5)
        #expect(SessionStoreError.parseConflictDetail("expected_turn_count=3") == nil)
        #expect(SessionStoreError.parseConflictDetail(nil) == nil)
    }
}
