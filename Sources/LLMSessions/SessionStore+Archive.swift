import Foundation

extension SessionStore {
    /// Pins a session so that no cleanup archives or deletes it, or unpins it; returns its summary.
    ///
    /// Pinning is not activity: the session's `lastQueryAt` stays as it was. `endSession` still ends
    /// a pinned session.
    ///
    /// - Throws: `.notFound` for an unknown or archived session.
    @discardableResult
    public func pinSession(_ sessionID: String, pinned: Bool = true) async throws -> SessionSummary {
        var bind = Bind()
        try bind.text(sessionID, "sessionID")
        bind.boolean(pinned)
        return try await call(
            "SELECT llm.pin_session($1::text, $2::boolean)", bind,
            retry: .onceAfterReconnect, context: CallContext(sessionID: sessionID)
        )
    }

    /// Moves an archived session and its turns back into the live tables, exactly as they were
    /// (counters, timestamps, request ids, pin, parent); returns its summary. Requires `llm_admin`.
    ///
    /// - Throws: `.notFound` when the session is not in the archive, `.duplicateSession` when it is live already.
    @discardableResult
    public func restoreSession(_ sessionID: String) async throws -> SessionSummary {
        var bind = Bind()
        try bind.text(sessionID, "sessionID")
        return try await call(
            "SELECT llm.restore_session($1::text)", bind,
            retry: .never, context: CallContext(sessionID: sessionID, newSession: .id(sessionID))
        )
    }

    /// Deletes for good the archived sessions (with their turns) archived at least `olderThan` ago,
    /// `batchSize` (1...100000) per statement; returns how many. Requires `llm_admin`.
    ///
    /// This is global: every archived session old enough goes, whoever archived it.
    /// `.zero` purges the whole archive; `exportSession` takes a session out of it first.
    ///
    /// - Throws: `.invalidArgument` when `olderThan` is negative or `batchSize` is out of range.
    @discardableResult
    public func purgeArchive(olderThan: Duration, batchSize: Int = 1000) async throws -> Int {
        var bind = Bind()
        try bind.interval(olderThan, "olderThan")
        bind.integer(batchSize)
        return try await callInteger(
            "SELECT llm.purge_archive($1::interval, $2::integer)", bind,
            retry: .never, context: CallContext(), field: "purged"
        )
    }
}
