import Foundation

extension SessionStore {
    /// Full-text search over the questions and responses of the live sessions, best first.
    ///
    /// `query` is web-search syntax (PostgreSQL's `websearch_to_tsquery`, English): words,
    /// `"a phrase"`, `or`, `-not`. A query of stop words only matches nothing.
    ///
    /// - Parameters:
    ///   - agentRole: only sessions of this role, when given.
    ///   - limit: at most this many hits (1...100).
    /// - Throws: `.invalidArgument` for a blank query or a limit out of range.
    public func searchTurns(_ query: String, agentRole: String? = nil, limit: Int = 20) async throws -> [SearchHit] {
        var bind = Bind()
        try bind.text(query, "query")
        try bind.text(agentRole, "agentRole")
        bind.integer(limit)
        let result: SearchHits = try await call(
            "SELECT llm.search_turns($1::text, $2::text, $3::integer)", bind,
            retry: .onceAfterReconnect, context: CallContext()
        )
        return result.hits
    }
}
