import Foundation

extension SessionStore {
    /// Brings the database schema and API up to date from the SQL files under `sqlRoot`.
    ///
    /// Follows the same protocol as `scripts/migrate.sh`: runs `sql/migrator.sql` as one script,
    /// then each `Migrations/[0-9]*.sql` in file-name order in its own transaction through
    /// `llm._apply_migration(name, text)`, then all `sql/api/[0-9]*.sql` in one transaction through
    /// `llm._apply_api(name, text)`. Safe to run concurrently with other migrators.
    ///
    /// - Parameter sqlRoot: the directory that contains `sql/` and `Migrations/` (the repository root).
    /// - Throws: `.invalidArgument` when `sql/migrator.sql` is missing or a file is unreadable;
    ///   `.server` with SQLSTATE `55000` when an already applied migration file was edited.
    public func migrate(sqlRoot: URL) async throws -> MigrationReport {
        let migrator = try Self.readSQL(sqlRoot.appendingPathComponent("sql/migrator.sql"))
        let migrations = try Self.sqlFiles(in: sqlRoot.appendingPathComponent("Migrations"))
        let apiFiles = try Self.sqlFiles(in: sqlRoot.appendingPathComponent("sql/api"))

        return try await withConnection(context: CallContext()) { (connection) throws(DatabaseFailure) -> MigrationReport in
            try connection.ensureConnected()
            try connection.simpleQuery(migrator)

            var migrationSteps: [MigrationReport.Step] = []
            for file in migrations {
                try connection.query("BEGIN")
                let step = try Self.step(connection.query("SELECT llm._apply_migration($1::text, $2::text)", [file.name, file.text]))
                try connection.query("COMMIT")
                migrationSteps.append(step)
            }

            var apiSteps: [MigrationReport.Step] = []
            try connection.query("BEGIN")
            for file in apiFiles {
                apiSteps.append(try Self.step(connection.query("SELECT llm._apply_api($1::text, $2::text)", [file.name, file.text])))
            }
            try connection.query("COMMIT")
            // A failure anywhere leaves the transaction open; the worker rolls it back.
            return MigrationReport(migrations: migrationSteps, api: apiSteps)
        }
    }

    private struct SQLFile: Sendable {
        var name: String
        var text: String
    }

    private static func step(_ rows: QueryRows) throws(DatabaseFailure) -> MigrationReport.Step {
        guard let text = rows.singleValue else { throw .protocolViolation("migration step returned NULL") }
        do {
            return try SessionJSON.decode(MigrationReport.Step.self, from: text)
        } catch {
            throw .protocolViolation(String(describing: error))
        }
    }

    /// The `[0-9]*.sql` files of a directory (as scripts/migrate.sh globs them), sorted by file name; none when the directory does not exist.
    private static func sqlFiles(in directory: URL) throws -> [SQLFile] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") && $0.first.map { ("0"..."9").contains($0) } == true }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return try names.map { name in
            SQLFile(name: String(name.dropLast(4)), text: try readSQL(directory.appendingPathComponent(name)))
        }
    }

    private static func readSQL(_ file: URL) throws -> String {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw SessionStoreError.invalidArgument("cannot read \(file.path)")
        }
        guard let text = String(data: data, encoding: .utf8), !text.utf8.contains(0) else {
            throw SessionStoreError.invalidArgument("\(file.path) is not NUL-free UTF-8 text")
        }
        return text
    }
}
