import CLibPQ
import Foundation

/// Why a libpq call failed, before it is mapped to a `SessionStoreError`.
enum DatabaseFailure: Error, Sendable {
    /// Could not connect, or the connection broke (CONNECTION_BAD, SQLSTATE class 08).
    case connection(String)
    /// The server reported an error on a healthy connection.
    case server(ServerError)
    /// The server's answer was not what the protocol promised (e.g. not UTF-8).
    case protocolViolation(String)
}

/// The rows of one result, copied out of the `PGresult` so the result can be cleared at once.
struct QueryRows: Sendable {
    /// Each row's values in column order; `nil` is SQL NULL.
    var rows: [[String?]]

    /// The first column of the first row, or `nil` for no row or SQL NULL.
    var singleValue: String? { rows.first?.first ?? nil }
}

/// One libpq connection: the only owner of its `PGconn` pointer and of every `PGresult` it makes.
///
/// Each instance is driven by exactly one `ConnectionWorker` thread; the lock additionally keeps
/// the pointer consistent if `close()` is called from elsewhere (e.g. during shutdown).
final class PGConnection: @unchecked Sendable {
    private let lock = NSLock()
    private var handle: OpaquePointer?
    private let configuration: ConnectionConfiguration
    private let applicationName: String
    /// The server-side names of the statements prepared on `handle`, by SQL text. Prepared
    /// statements live as long as the server session, so this is emptied whenever `handle` changes.
    private var preparedNames: [String: String] = [:]
    private var nextStatementNumber = 0

    init(configuration: ConnectionConfiguration, applicationName: String = "llm-sessions") {
        self.configuration = configuration
        self.applicationName = applicationName
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Connects if there is no connection yet, and reconnects one that has gone bad.
    ///
    /// An idle connection is probed without a round trip: whatever the server sent meanwhile
    /// (e.g. the FATAL message of a terminated backend, then EOF) is consumed, which lets libpq
    /// notice a dead socket before a request is sent on it.
    func ensureConnected() throws(DatabaseFailure) {
        try locked { () throws(DatabaseFailure) in
            if let handle {
                for _ in 0..<3 where PQstatus(handle) == CONNECTION_OK {
                    if PQconsumeInput(handle) == 0 { break }
                    _ = PQisBusy(handle)  // parses what arrived, e.g. an error notice
                }
                if PQstatus(handle) == CONNECTION_OK { return }
                replaceHandle(with: nil)
            }
            try replaceHandle(with: Self.connect(configuration, applicationName: applicationName))
        }
    }

    /// Drops the current connection (if any) and connects again.
    func reconnect() throws(DatabaseFailure) {
        try locked { () throws(DatabaseFailure) in
            replaceHandle(with: nil)
            try replaceHandle(with: Self.connect(configuration, applicationName: applicationName))
        }
    }

    /// Reconnects, trying again with growing pauses (0.1 s doubling to 1 s) until `patience`
    /// has passed: a server that is restarting refuses connections for a moment. Blocks the
    /// calling thread, which is always the connection's own worker thread.
    func reconnect(patience: Duration) throws(DatabaseFailure) {
        let clock = ContinuousClock()
        let deadline = clock.now + patience
        var pause = Duration.milliseconds(100)
        while true {
            do throws(DatabaseFailure) {
                try reconnect()
                return
            } catch {
                guard case .connection = error, clock.now + pause < deadline else { throw error }
                Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18)
                pause = min(pause * 2, .seconds(1))
            }
        }
    }

    /// Closes the connection; safe to call more than once.
    func close() {
        lock.withLock { replaceHandle(with: nil) }
    }

    /// Finishes the current connection, if any, and adopts `newHandle`. The lock must be held.
    private func replaceHandle(with newHandle: OpaquePointer?) {
        if let handle { PQfinish(handle) }
        handle = newHandle
        preparedNames.removeAll()
    }

    /// Runs one statement with bind parameters (extended protocol); values are sent as text, never spliced into SQL.
    ///
    /// With `prepared`, the statement is parsed and planned once per connection and then only
    /// executed, as `pgbench -M prepared` does; meant for the fixed SQL of `SessionStore`'s calls,
    /// since every distinct text stays prepared for the life of the connection.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = [], prepared: Bool = false) throws(DatabaseFailure) -> QueryRows {
        try withResult(sql, parameters, prepared: prepared) { (result) throws(DatabaseFailure) in try Self.copyRows(result) }
    }

    /// Runs one statement like `query` and lends `read` the bytes of the first column of the first
    /// row (`nil` for no row or SQL NULL). The bytes live in the `PGresult` and are valid only
    /// during `read`: large answers are read in place instead of being copied out first.
    func withFirstValue<R>(
        _ sql: String, _ parameters: [String?], prepared: Bool = false,
        _ read: (UnsafeRawBufferPointer?) throws(DatabaseFailure) -> R
    ) throws(DatabaseFailure) -> R {
        try withResult(sql, parameters, prepared: prepared) { (result) throws(DatabaseFailure) in
            guard PQntuples(result) > 0, PQnfields(result) > 0, PQgetisnull(result, 0, 0) == 0,
                  let bytes = PQgetvalue(result, 0, 0)
            else { return try read(nil) }
            return try read(UnsafeRawBufferPointer(start: bytes, count: Int(PQgetlength(result, 0, 0))))
        }
    }

    /// Runs a script through the simple query protocol. Used only for `sql/migrator.sql`, which takes no parameters.
    func simpleQuery(_ sql: String) throws(DatabaseFailure) {
        try locked { () throws(DatabaseFailure) in
            guard let handle else { throw .connection("not connected") }
            guard let result = PQexec(handle, sql) else { throw .connection(Self.errorMessage(handle)) }
            defer { PQclear(result) }
            try Self.check(result, on: handle)
        }
    }

    /// Rolls back a transaction left open (e.g. by a failed migration step) so the next caller starts clean.
    func rollbackIfInTransaction() {
        lock.withLock {
            guard let handle, PQstatus(handle) == CONNECTION_OK else { return }
            let status = PQtransactionStatus(handle)
            guard status == PQTRANS_INTRANS || status == PQTRANS_INERROR else { return }
            PQclear(PQexec(handle, "ROLLBACK"))
        }
    }

    /// Waits up to `timeout` for notifications (of the channels this connection `LISTEN`s to) and
    /// hands each one's payload to `receive`, in the order the server sent them.
    ///
    /// Notifications that arrived earlier (e.g. together with a query's answer) are delivered first,
    /// without waiting. Waits with `poll()` on the connection's socket and on `wake`, a descriptor
    /// another thread can make readable to end the wait early. Each notification libpq hands out is
    /// freed right after its payload is copied.
    ///
    /// - Returns: whether `wake` became readable.
    /// - Throws: `.connection` when the connection is closed or has broken (e.g. its backend was terminated).
    func waitForNotifications(
        timeout: Duration, wake: Int32, _ receive: (String) -> Void
    ) throws(DatabaseFailure) -> Bool {
        try locked { () throws(DatabaseFailure) -> Bool in
            guard let handle, PQstatus(handle) == CONNECTION_OK else { throw .connection("not connected") }
            if Self.drainNotifications(handle, receive) > 0 { return false }
            let socket = PQsocket(handle)
            guard socket >= 0 else { throw .connection(Self.errorMessage(handle)) }
            var descriptors = [
                pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
            ]
            let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
            let ready = poll(&descriptors, nfds_t(descriptors.count), max(0, milliseconds))
            if ready < 0 {
                if errno == EINTR { return false }
                throw .connection("poll() failed: \(String(cString: strerror(errno)))")
            }
            if descriptors[0].revents != 0 {
                // Readable, or hung up: either way libpq reads what there is and notices a dead socket.
                if PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK {
                    throw .connection(Self.errorMessage(handle))
                }
                Self.drainNotifications(handle, receive)
            }
            return descriptors[1].revents != 0
        }
    }

    /// Hands the payload of every notification libpq has parsed to `receive`; returns how many.
    @discardableResult
    private static func drainNotifications(_ handle: OpaquePointer, _ receive: (String) -> Void) -> Int {
        var count = 0
        while let notification = PQnotifies(handle) {
            defer { PQfreemem(notification) }
            receive(String(cString: notification.pointee.extra))
            count += 1
        }
        return count
    }

    private func locked<T>(_ body: () throws(DatabaseFailure) -> T) throws(DatabaseFailure) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Runs a statement and hands its successful result to `body`; the one place a statement's
    /// `PGresult` is made and cleared.
    private func withResult<R>(
        _ sql: String, _ parameters: [String?], prepared: Bool,
        _ body: (OpaquePointer) throws(DatabaseFailure) -> R
    ) throws(DatabaseFailure) -> R {
        try locked { () throws(DatabaseFailure) in
            guard let handle else { throw .connection("not connected") }
            let result = try withCStrings(parameters) { (values) throws(DatabaseFailure) in
                guard prepared else {
                    return PQexecParams(handle, sql, Int32(values.count), nil, values, nil, nil, 0)
                }
                func execute() throws(DatabaseFailure) -> OpaquePointer? {
                    PQexecPrepared(handle, try statementName(for: sql, on: handle), Int32(values.count), values, nil, nil, 0)
                }
                let result = try execute()
                guard Self.isStalePreparedStatement(result) else { return result }
                // Prepare afresh and run once more; the failure came before the statement ran.
                PQclear(result)
                preparedNames[sql] = nil
                return try execute()
            }
            guard let result else { throw .connection(Self.errorMessage(handle)) }
            defer { PQclear(result) }
            try Self.check(result, on: handle)
            return try body(result)
        }
    }

    /// The name `sql` is prepared under on this connection, preparing it first if needed. The lock must be held.
    private func statementName(for sql: String, on handle: OpaquePointer) throws(DatabaseFailure) -> String {
        if let name = preparedNames[sql] { return name }
        nextStatementNumber += 1
        let name = "llm_sessions_\(nextStatementNumber)"
        // Parameter types come from the casts in the SQL ($1::text ...), as with PQexecParams.
        guard let result = PQprepare(handle, name, sql, 0, nil) else { throw .connection(Self.errorMessage(handle)) }
        defer { PQclear(result) }
        try Self.check(result, on: handle)
        preparedNames[sql] = name
        return name
    }

    // MARK: - libpq plumbing

    private static func connect(
        _ configuration: ConnectionConfiguration, applicationName: String
    ) throws(DatabaseFailure) -> OpaquePointer {
        // dbname with expand_dbname=1 takes the whole URL or keyword string. client_encoding comes
        // after it so it wins: every text we send and receive is UTF-8.
        try checkParses(configuration)
        let keywords = ["fallback_application_name", "dbname", "client_encoding"]
        let values = [applicationName, configuration.connectionString, "UTF8"]
        let connection = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers + [nil], valuePointers + [nil], 1)
            }
        }
        guard let connection else { throw .connection("out of memory while connecting") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = errorMessage(connection)
            PQfinish(connection)
            throw .connection(message)
        }
        return connection
    }

    /// Refuses a connection string libpq cannot parse, without passing on libpq's message:
    /// it quotes the offending part of the string, which may be the password.
    private static func checkParses(_ configuration: ConnectionConfiguration) throws(DatabaseFailure) {
        var parseError: UnsafeMutablePointer<CChar>?
        let options = PQconninfoParse(configuration.connectionString, &parseError)
        if let parseError { PQfreemem(parseError) }
        guard let options else {
            throw .connection("the connection string \(configuration) is malformed (libpq could not parse it)")
        }
        PQconninfoFree(options)
    }

    /// Throws the failure a result reports, if any.
    private static func check(_ result: OpaquePointer, on handle: OpaquePointer) throws(DatabaseFailure) {
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return
        default:
            let error = serverError(result)
            if PQstatus(handle) == CONNECTION_BAD || error.sqlState.hasPrefix("08") || error.sqlState.isEmpty {
                throw .connection(error.message.isEmpty ? errorMessage(handle) : error.message)
            }
            throw .server(error)
        }
    }

    /// Whether executing a prepared statement failed because the statement is gone (e.g. after
    /// `DISCARD ALL`) or can no longer be used as planned (a function it calls now returns another
    /// type, after a migration). Both are raised before the statement runs, so running it again
    /// once it is prepared anew cannot repeat an effect. Told apart by the server function that
    /// raised them (PG_DIAG_SOURCE_FUNCTION), which unlike the message is never translated.
    private static func isStalePreparedStatement(_ result: OpaquePointer?) -> Bool {
        guard let result, PQresultStatus(result) == PGRES_FATAL_ERROR,
              let routine = PQresultErrorField(result, Int32(UInt8(ascii: "R")))
        else { return false }
        let name = String(cString: routine)
        return name == "FetchPreparedStatement" || name == "RevalidateCachedQuery"
    }

    private static func copyRows(_ result: OpaquePointer) throws(DatabaseFailure) -> QueryRows {
        guard PQresultStatus(result) == PGRES_TUPLES_OK || PQresultStatus(result) == PGRES_SINGLE_TUPLE else {
            return QueryRows(rows: [])
        }
        let rowCount = PQntuples(result)
        let columnCount = PQnfields(result)
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                if PQgetisnull(result, row, column) != 0 {
                    values.append(nil)
                    continue
                }
                let length = Int(PQgetlength(result, row, column))
                guard let bytes = PQgetvalue(result, row, column) else {
                    values.append(nil)
                    continue
                }
                let buffer = UnsafeRawBufferPointer(start: bytes, count: length)
                guard let text = String(validating: buffer.bindMemory(to: UInt8.self), as: UTF8.self) else {
                    throw .protocolViolation("row \(row) column \(column) is not valid UTF-8")
                }
                values.append(text)
            }
            rows.append(values)
        }
        return QueryRows(rows: rows)
    }

    private static func serverError(_ result: OpaquePointer) -> ServerError {
        // libpq defines the PG_DIAG_* field codes as character macros, which Swift does not import.
        func field(_ code: Unicode.Scalar) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.value)) else { return nil }
            return String(cString: value)
        }
        let fallback = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        return ServerError(
            sqlState: field("C") ?? "",        // PG_DIAG_SQLSTATE
            message: field("M") ?? fallback,   // PG_DIAG_MESSAGE_PRIMARY
            detail: field("D"),                // PG_DIAG_MESSAGE_DETAIL
            hint: field("H"),                  // PG_DIAG_MESSAGE_HINT
            constraint: field("n")             // PG_DIAG_CONSTRAINT_NAME
        )
    }

    private static func errorMessage(_ handle: OpaquePointer) -> String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Calls `body` with NUL-terminated copies of `strings` (nil stays a null pointer) that live for the call.
private func withCStrings<R, E: Error>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) throws(E) -> R) throws(E) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } }
    defer { copies.forEach { free($0) } }
    return try body(copies.map { $0.map { UnsafePointer($0) } })
}
