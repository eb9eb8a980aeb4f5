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
                PQfinish(handle)
                self.handle = nil
            }
            self.handle = try Self.connect(configuration, applicationName: applicationName)
        }
    }

    /// Drops the current connection (if any) and connects again.
    func reconnect() throws(DatabaseFailure) {
        try locked { () throws(DatabaseFailure) in
            if let handle { PQfinish(handle) }
            handle = nil
            handle = try Self.connect(configuration, applicationName: applicationName)
        }
    }

    /// Closes the connection; safe to call more than once.
    func close() {
        lock.withLock {
            if let handle { PQfinish(handle) }
            handle = nil
        }
    }

    /// Runs one statement with bind parameters (extended protocol); values are sent as text, never spliced into SQL.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws(DatabaseFailure) -> QueryRows {
        try locked { () throws(DatabaseFailure) in
            guard let handle else { throw .connection("not connected") }
            let result = withCStrings(parameters) { values in
                PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
            }
            return try Self.consume(result, on: handle)
        }
    }

    /// Runs a script through the simple query protocol. Used only for `sql/migrator.sql`, which takes no parameters.
    func simpleQuery(_ sql: String) throws(DatabaseFailure) {
        try locked { () throws(DatabaseFailure) in
            guard let handle else { throw .connection("not connected") }
            _ = try Self.consume(PQexec(handle, sql), on: handle)
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

    private func locked<T>(_ body: () throws(DatabaseFailure) -> T) throws(DatabaseFailure) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: - libpq plumbing

    private static func connect(
        _ configuration: ConnectionConfiguration, applicationName: String
    ) throws(DatabaseFailure) -> OpaquePointer {
        // dbname with expand_dbname=1 takes the whole URL or keyword string. client_encoding comes
        // after it so it wins: every text we send and receive is UTF-8.
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

    /// Turns a `PGresult` into rows or a failure, and clears it exactly once.
    private static func consume(_ result: OpaquePointer?, on handle: OpaquePointer) throws(DatabaseFailure) -> QueryRows {
        guard let result else {
            throw .connection(errorMessage(handle))
        }
        defer { PQclear(result) }

        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            return try copyRows(result)
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return QueryRows(rows: [])
        default:
            let error = serverError(result)
            if PQstatus(handle) == CONNECTION_BAD || error.sqlState.hasPrefix("08") || error.sqlState.isEmpty {
                throw .connection(error.message.isEmpty ? errorMessage(handle) : error.message)
            }
            throw .server(error)
        }
    }

    private static func copyRows(_ result: OpaquePointer) throws(DatabaseFailure) -> QueryRows {
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
private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}
