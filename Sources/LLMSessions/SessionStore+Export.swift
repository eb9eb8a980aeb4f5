import Foundation

extension SessionStore {
    /// Returns a session (live or archived) as one export document, or `nil` when it does not exist.
    ///
    /// `SessionExport.json` is the document text exactly as the server wrote it, on one line:
    /// write it out as a line of JSON Lines, and hand it to `importSession` to restore the session.
    public func exportSession(_ sessionID: String) async throws -> SessionExport? {
        var bind = Bind()
        try bind.text(sessionID, "sessionID")
        let text = try await callScalar(
            "SELECT llm.export_session($1::text)", bind,
            retry: .onceAfterReconnect, context: CallContext(sessionID: sessionID)
        )
        return text.map { SessionExport(sessionID: sessionID, json: $0) }
    }

    /// Restores a session from an export document exactly (as a live session). Requires `llm_admin`.
    ///
    /// The document is checked whole before anything is written: unknown format or version,
    /// counters that disagree with the turns, or a wrong type are refused with a message naming
    /// the field. Sent as a `jsonb` parameter, unchanged.
    ///
    /// - Parameters:
    ///   - document: the text of an export document, e.g. `SessionExport.json` or a line of a JSON Lines file.
    ///   - onConflict: what to do when the id exists, live or archived.
    /// - Throws: `.duplicateSession` when the id exists and `onConflict` is `.error`;
    ///   `.invalidArgument` for a document that is not valid JSON or not a valid session document.
    @discardableResult
    public func importSession(_ document: String, onConflict: ImportConflictPolicy = .error) async throws -> ImportResult {
        var bind = Bind()
        try bind.text(document, "document")
        try bind.text(onConflict.rawValue, "onConflict")
        // Skipping and replacing give the same outcome when repeated; an error-on-conflict import
        // that committed before the connection dropped would be refused as a duplicate.
        return try await call(
            "SELECT llm.import_session($1::jsonb, $2::text)", bind,
            retry: onConflict == .error ? .never : .onceAfterReconnect,
            context: CallContext(newSession: .document(document))
        )
    }
}
