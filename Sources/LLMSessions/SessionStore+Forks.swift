import Foundation

extension SessionStore {
    /// Removes the newest turn of a session (undo) and returns it with the session's new totals,
    /// or `nil` when the session has no turns.
    ///
    /// `replayed` is always false. The removed turn's `requestID` may be used again.
    ///
    /// - Throws: `.notFound` for an unknown session.
    @discardableResult
    public func popTurn(from sessionID: String) async throws -> AppendedTurn? {
        var bind = Bind()
        try bind.text(sessionID, "sessionID")
        return try await callOptional(
            "SELECT llm.pop_turn($1::text)", bind, retry: .never, context: CallContext(sessionID: sessionID)
        )
    }

    /// Starts a new session with a copy of a session's first `atSeq` turns (all when `nil`) and
    /// returns it, with `parentSessionID` and `parentSeq` set.
    ///
    /// The fork has the parent's role, startup context and metadata, and the id `newSessionID`
    /// (generated like `createSession`'s when `nil`). Parent and fork own their turns separately:
    /// either can be appended to, popped or ended without touching the other.
    ///
    /// - Throws: `.notFound` for an unknown parent, `.invalidArgument` when `atSeq` is beyond its
    ///   turns, `.duplicateSession` when `newSessionID` is taken (live or archived).
    public func forkSession(_ sessionID: String, atSeq: Int? = nil, newSessionID: String? = nil) async throws -> Session {
        var bind = Bind()
        try bind.text(sessionID, "sessionID")
        bind.integer(atSeq)
        try bind.text(newSessionID, "newSessionID")
        return try await call(
            "SELECT llm.fork_session($1::text, $2::integer, $3::text)", bind,
            retry: .never, context: CallContext(sessionID: sessionID, newSession: .id(newSessionID))
        )
    }
}
