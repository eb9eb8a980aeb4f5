import Foundation

/// One session as the versioned document `llm.export_session` writes, kept as the server's exact text.
///
/// The document is `{"format": "llm-sessions/session", "version": 1, "exported_at", "session": {...},
/// "turns": [...]}`, on one line: `json` can be written out as a line of JSON Lines without
/// re-encoding, and handed back to `importSession` to restore the session exactly.
public struct SessionExport: Sendable, Codable, Hashable {
    /// The exported session's id.
    public var sessionID: String
    /// The document text exactly as the server returned it (one line of JSON).
    public var json: String

    /// Creates an export from a session id and its document text.
    public init(sessionID: String, json: String) {
        self.sessionID = sessionID
        self.json = json
    }

    /// The document parsed into a `JSONValue`, e.g. to read `["session"]?["turn_count"]`.
    ///
    /// - Throws: `ResponseDecodingError` when `json` is not a JSON document.
    public func decoded() throws -> JSONValue {
        try SessionJSON.decode(JSONValue.self, from: json)
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case json
    }
}
