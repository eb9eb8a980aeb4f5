import Foundation

/// One question and its response in a session's conversation history.
public struct Turn: Sendable, Codable, Hashable {
    /// Position in the session, 1-based and gapless.
    public var seq: Int
    /// What was asked.
    public var question: String
    /// What was answered.
    public var response: String
    /// Tokens the turn cost, as reported by the caller.
    public var tokens: Int
    /// Free-form metadata stored with the turn (a JSON object).
    public var metadata: JSONValue
    /// The caller's idempotency key for the append that stored this turn, if any.
    public var requestID: String?
    /// When the turn was stored.
    public var timestamp: Date

    /// Creates a turn from its fields.
    public init(seq: Int, question: String, response: String, tokens: Int, metadata: JSONValue = [:], requestID: String? = nil, timestamp: Date) {
        self.seq = seq
        self.question = question
        self.response = response
        self.tokens = tokens
        self.metadata = metadata
        self.requestID = requestID
        self.timestamp = timestamp
    }

    enum CodingKeys: String, CodingKey {
        case seq, question, response, tokens, metadata, timestamp
        case requestID = "request_id"
    }
}
