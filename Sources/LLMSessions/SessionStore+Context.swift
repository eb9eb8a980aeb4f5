import Foundation

extension SessionStore {
    /// The newest turns of a session whose tokens fit `maxTokens`, as chat messages, or `nil` for
    /// an unknown or archived session.
    ///
    /// The turns come oldest first, each as a `user` and an `assistant` message, after the startup
    /// context as a `system` message when `systemPrompt` is true and the session has one (its
    /// tokens are not counted). A turn that does not fit ends the window, even if an older one
    /// would fit. Reads only the turns it returns.
    ///
    /// ```swift
    /// if let window = try await store.context(for: id, maxTokens: 4000) {
    ///     let messages = window.messages.map { ["role": $0.role.rawValue, "content": $0.content] }
    /// }
    /// ```
    ///
    /// - Throws: `.invalidArgument` when `maxTokens` is negative.
    public func context(for sessionID: String, maxTokens: Int, systemPrompt: Bool = true) async throws -> ContextWindow? {
        var bind = Bind()
        try bind.text(sessionID, "sessionID")
        bind.integer(maxTokens)
        bind.boolean(systemPrompt)
        return try await callOptional(
            "SELECT llm.get_context($1::text, $2::integer, $3::boolean)", bind,
            retry: .onceAfterReconnect, context: CallContext(sessionID: sessionID)
        )
    }
}
