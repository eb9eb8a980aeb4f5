import Foundation

/// The newest turns of a session that fit a token budget, as chat messages ready for a model.
///
/// Returned by `context(for:maxTokens:systemPrompt:)`. The turns are the newest ones whose
/// tokens add up to at most the budget, oldest first, each as a user and an assistant message,
/// after the startup context as a system message when asked for and present.
public struct ContextWindow: Sendable, Codable, Hashable {
    /// The session the window is taken from.
    public var sessionID: String
    /// The messages, in conversation order: `system` first (if any), then `user`, `assistant`, ...
    public var messages: [ChatMessage]
    /// How many turns the messages hold.
    public var turnsIncluded: Int
    /// The tokens of those turns (the system message is not counted: the session stores no tokens for it).
    public var tokensIncluded: Int64
    /// How many older turns did not fit and were left out.
    public var turnsOmitted: Int
    /// The tokens of the turns left out.
    public var tokensOmitted: Int64

    /// Creates a context window from its fields.
    public init(sessionID: String, messages: [ChatMessage], turnsIncluded: Int, tokensIncluded: Int64, turnsOmitted: Int, tokensOmitted: Int64) {
        self.sessionID = sessionID
        self.messages = messages
        self.turnsIncluded = turnsIncluded
        self.tokensIncluded = tokensIncluded
        self.turnsOmitted = turnsOmitted
        self.tokensOmitted = tokensOmitted
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case messages
        case turnsIncluded = "turns_included"
        case tokensIncluded = "tokens_included"
        case turnsOmitted = "turns_omitted"
        case tokensOmitted = "tokens_omitted"
    }
}

/// One message of a chat conversation, in the shape OpenAI-style chat APIs take: `{"role", "content"}`.
public struct ChatMessage: Sendable, Codable, Hashable {
    /// Who speaks.
    public enum Role: String, Sendable, Codable, Hashable, CaseIterable {
        /// The session's startup context.
        case system
        /// A turn's question.
        case user
        /// A turn's response.
        case assistant
    }

    /// Who speaks.
    public var role: Role
    /// What is said.
    public var content: String

    /// Creates a message.
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}
