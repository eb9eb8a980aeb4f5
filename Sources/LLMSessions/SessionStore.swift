import Foundation

/// Durable conversation memory in PostgreSQL: one async method per `llm.*` SQL function.
///
/// Safe to share across tasks. Calls run on a small pool of connections, each driven by its own
/// thread so libpq's blocking I/O never occupies Swift's cooperative threads; when every
/// connection is busy, callers wait their turn in FIFO order. A dropped connection is
/// re-established: reads are then retried once, appends only when they carry a `requestID`
/// (which makes them idempotent), and session creation or ending never.
///
/// ```swift
/// let store = SessionStore()                       // DATABASE_URL or PG* variables
/// let session = try await store.createSession(agentRole: "ceo")
/// try await store.appendTurn(to: session.sessionID, question: "Q?", response: "A.", tokens: 12)
/// ```
public final class SessionStore: Sendable {
    /// Where the store connects.
    public let configuration: ConnectionConfiguration
    let pool: ConnectionPool
    /// The connections of `events(agentRole:)`, stopped when the store closes.
    let listeners = EventListeners()

    /// Creates a store; connections are opened on first use, up to `poolSize` (at least 1) at once.
    public init(configuration: ConnectionConfiguration = .fromEnvironment(), poolSize: Int = 4) {
        self.configuration = configuration
        self.pool = ConnectionPool(configuration: configuration, size: poolSize)
    }

    deinit {
        listeners.close()
        pool.close()
    }

    /// Closes every connection and ends every `events` sequence; later calls fail with `connectionLost`.
    public func close() async {
        listeners.close()
        pool.close()
    }

    // MARK: - Sessions

    /// Creates a session for `agentRole`, with a generated id unless `sessionID` is given.
    ///
    /// - Throws: `SessionStoreError.duplicateSession` when `sessionID` exists already,
    ///   `.invalidArgument` for a blank role or id or a metadata value that is not an object.
    public func createSession(
        agentRole: String,
        startupContext: String? = nil,
        sessionID: String? = nil,
        metadata: JSONValue = [:]
    ) async throws -> Session {
        var bind = Bind()
        try bind.text(agentRole, "agentRole")
        try bind.text(startupContext, "startupContext")
        try bind.text(sessionID, "sessionID")
        try bind.json(metadata, "metadata")
        return try await call(
            "SELECT llm.create_session($1::text, $2::text, $3::text, $4::jsonb)", bind,
            retry: .never, context: CallContext(sessionID: sessionID, newSession: .id(sessionID))
        )
    }

    /// Appends one turn to a session and returns it with the session's new totals.
    ///
    /// - Parameters:
    ///   - expectedTurnCount: when given, the append happens only if the session has exactly
    ///     this many turns (optimistic concurrency); otherwise `.conflict` is thrown.
    ///   - requestID: an idempotency key; repeating an append with the same key returns the
    ///     stored turn with `replayed == true` and adds nothing. Makes the call safe to retry.
    /// - Throws: `.notFound`, `.conflict(expected:actual:)`, `.invalidArgument`.
    @discardableResult
    public func appendTurn(
        to sessionID: String,
        question: String,
        response: String,
        tokens: Int = 0,
        metadata: JSONValue = [:],
        expectedTurnCount: Int? = nil,
        requestID: String? = nil
    ) async throws -> AppendedTurn {
        var bind = Bind()
        try bind.text(sessionID, "sessionID")
        try bind.text(question, "question")
        try bind.text(response, "response")
        bind.integer(tokens)
        try bind.json(metadata, "metadata")
        bind.integer(expectedTurnCount)
        try bind.text(requestID, "requestID")
        return try await call(
            "SELECT llm.append_turn($1::text, $2::text, $3::text, $4::integer, $5::jsonb, $6::integer, $7::text)", bind,
            retry: requestID == nil ? .never : .onceAfterReconnect, context: CallContext(sessionID: sessionID)
        )
    }

    /// Returns a session with its history (only the newest `lastN` turns when given), or `nil` when it does not exist.
    public func session(_ sessionID: String, lastN: Int? = nil) async throws -> Session? {
        var bind = Bind()
        try bind.text(sessionID, "sessionID")
        bind.integer(lastN)
        return try await callOptional(
            "SELECT llm.get_session($1::text, $2::integer)", bind,
            retry: .onceAfterReconnect, context: CallContext(sessionID: sessionID)
        )
    }

    /// Ends (deletes) a session with its turns; returns whether it existed.
    @discardableResult
    public func endSession(_ sessionID: String) async throws -> Bool {
        var bind = Bind()
        try bind.text(sessionID, "sessionID")
        let value = try await callScalar(
            "SELECT llm.end_session($1::text)", bind, retry: .never, context: CallContext(sessionID: sessionID)
        )
        return value == "t"
    }

    /// Lists sessions by most recent activity, `limit` (1...1000) per page; pass the previous page's `next` to continue.
    public func listSessions(
        agentRole: String? = nil,
        limit: Int = 100,
        after cursor: SessionPage.Cursor? = nil
    ) async throws -> SessionPage {
        var bind = Bind()
        try bind.text(agentRole, "agentRole")
        bind.integer(limit)
        bind.timestamp(cursor?.before)
        try bind.text(cursor?.beforeID, "cursor.beforeID")
        return try await call(
            "SELECT llm.list_sessions($1::text, $2::integer, $3::timestamptz, $4::text)", bind,
            retry: .onceAfterReconnect, context: CallContext()
        )
    }

    /// Totals per agent role, ordered by role. Requires the `llm_admin` role (or a superuser).
    public func stats() async throws -> [RoleStats] {
        try await call("SELECT llm.stats()", Bind(), retry: .onceAfterReconnect, context: CallContext())
    }

    // MARK: - Calling SQL functions (internal)

    enum RetryPolicy {
        /// The call may have had an effect when the connection dropped: report `connectionLost`.
        case never
        /// The call is a read or idempotent: reconnect (waiting up to a few seconds for the
        /// server to come back) and run it once more.
        case onceAfterReconnect
    }

    /// Runs a statement returning one JSON value and decodes it; SQL NULL is an error.
    func call<T: Decodable & Sendable>(_ sql: String, _ bind: Bind, retry: RetryPolicy, context: CallContext) async throws -> T {
        guard let value: T = try await callOptional(sql, bind, retry: retry, context: context) else {
            throw ResponseDecodingError(type: String(describing: T.self), field: "", reason: "the server returned NULL")
        }
        return value
    }

    /// Runs a statement returning one JSON value or SQL NULL and decodes it.
    ///
    /// The JSON is decoded on the connection's thread straight from the `PGresult`, so a large
    /// answer is never copied into a `String` or `Data` first; decoding errors travel back as values.
    func callOptional<T: Decodable & Sendable>(_ sql: String, _ bind: Bind, retry: RetryPolicy, context: CallContext) async throws -> T? {
        let decoded = try await callFirstValue(sql, bind, retry: retry, context: context) { bytes in
            bytes.map { bytes in Result { try SessionJSON.decode(T.self, from: bytes) } }
        }
        return try decoded?.get()
    }

    /// Runs a statement on a pooled connection and returns the first column of its first row as text.
    func callScalar(_ sql: String, _ bind: Bind, retry: RetryPolicy, context: CallContext) async throws -> String? {
        try await callFirstValue(sql, bind, retry: retry, context: context) { (bytes) throws(DatabaseFailure) in
            guard let bytes else { return nil }
            guard let text = String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) else {
                throw .protocolViolation("the value returned is not valid UTF-8")
            }
            return text
        }
    }

    /// Runs a statement returning one integer (e.g. a count); SQL NULL or anything else is an error naming `field`.
    func callInteger(_ sql: String, _ bind: Bind, retry: RetryPolicy, context: CallContext, field: String) async throws -> Int {
        let value = try await callScalar(sql, bind, retry: retry, context: context)
        guard let value, let number = Int(value) else {
            throw ResponseDecodingError(type: "Int", field: field, reason: "expected an integer, found \(value ?? "NULL")")
        }
        return number
    }

    /// Runs one of the store's fixed statements on a pooled connection and lends `read` the first
    /// column of its first row, on the connection's thread (see `PGConnection.withFirstValue`).
    ///
    /// The statement is prepared once per connection. A dropped connection is re-established by
    /// the next call; this call runs again on the new one only when `retry` allows it.
    func callFirstValue<R: Sendable>(
        _ sql: String, _ bind: Bind, retry: RetryPolicy, context: CallContext,
        _ read: @escaping @Sendable (UnsafeRawBufferPointer?) throws(DatabaseFailure) -> R
    ) async throws -> R {
        let values = bind.values
        return try await withConnection(context: context) { (connection) throws(DatabaseFailure) -> R in
            try connection.ensureConnected()
            do throws(DatabaseFailure) {
                return try connection.withFirstValue(sql, values, prepared: true, read)
            } catch DatabaseFailure.connection where retry == .onceAfterReconnect {
                // Only calls that may safely run twice get here; give a restarting server a few seconds.
                try connection.reconnect(patience: .seconds(5))
                return try connection.withFirstValue(sql, values, prepared: true, read)
            }
        }
    }

    /// Runs `body` on a pooled connection's thread, mapping failures to `SessionStoreError`.
    func withConnection<T: Sendable>(
        context: CallContext,
        _ body: @escaping @Sendable (PGConnection) throws(DatabaseFailure) -> T
    ) async throws -> T {
        do {
            return try await pool.withWorker { worker in
                try await worker.run { (connection) throws(DatabaseFailure) -> T in
                    // Never hand a connection back with a transaction open (e.g. a failed migration).
                    defer { connection.rollbackIfInTransaction() }
                    return try body(connection)
                }
            }
        } catch let failure as DatabaseFailure {
            throw SessionStoreError(failure, context: context)
        }
    }
}

/// Bind parameters for one statement, in `$n` order, checked before anything is sent.
struct Bind: Sendable {
    private(set) var values: [String?] = []

    /// Adds a text value; rejects U+0000, which libpq would silently cut the string at.
    mutating func text(_ value: String?, _ name: String) throws {
        if let value, value.utf8.contains(0) {
            throw SessionStoreError.invalidArgument("\(name) must not contain a NUL character (U+0000)")
        }
        values.append(value)
    }

    /// Adds an integer value (nil is SQL NULL).
    mutating func integer(_ value: Int?) {
        values.append(value.map(String.init))
    }

    /// Adds a floating-point value in its shortest exact form (`0.5`, `1e-05`; `nan` and `inf`
    /// as PostgreSQL's float8 reads them), for a `::float8` parameter.
    mutating func double(_ value: Double) {
        values.append(value.description)
    }

    /// Adds a boolean value (nil is SQL NULL).
    mutating func boolean(_ value: Bool?) {
        values.append(value.map { $0 ? "true" : "false" })
    }

    /// Adds a JSON value as text for a `::jsonb` parameter; rejects U+0000 anywhere in it.
    mutating func json(_ value: JSONValue, _ name: String) throws {
        if value.containsNUL {
            throw SessionStoreError.invalidArgument("\(name) must not contain a NUL character (U+0000)")
        }
        values.append(try SessionJSON.encode(value))
    }

    /// Adds a timestamp in PostgreSQL's own format, exact to the microsecond.
    mutating func timestamp(_ value: Date?) {
        values.append(value.map(PostgresTimestamp.format))
    }

    /// Adds a duration as an interval in seconds with microseconds, e.g. `3600.000000 seconds`.
    mutating func interval(_ value: Duration, _ name: String) throws {
        let (seconds, attoseconds) = value.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow else { throw SessionStoreError.invalidArgument("\(name) is out of range") }
        let micros = scaled + attoseconds / 1_000_000_000_000
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        let fraction = String(magnitude % 1_000_000)
        let padded = String(repeating: "0", count: 6 - fraction.count) + fraction
        values.append("\(sign)\(magnitude / 1_000_000).\(padded) seconds")
    }
}
