import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions migrate`: applies sql/migrator.sql, Migrations/*.sql and sql/api/*.sql.
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update the llm schema (migrations, then the API functions).",
            discussion: """
                Applies sql/migrator.sql, each Migrations/*.sql not yet applied, and every \
                sql/api/*.sql. Running it again is harmless: applied migrations report "unchanged".
                """)

        @OptionGroup var connection: ConnectionOptions

        @Option(
            name: .customLong("sql-root"),
            help: ArgumentHelp(
                "Folder holding Migrations/ and sql/ (default: the nearest such ancestor of the current folder, else of the executable).",
                valueName: "dir"))
        var sqlRoot: String?

        func validate() throws {
            if let sqlRoot, !Self.isSQLRoot(URL(fileURLWithPath: sqlRoot)) {
                throw ValidationError("--sql-root \(sqlRoot) does not contain Migrations/ and sql/migrator.sql")
            }
        }

        func run() async throws {
            guard let root = sqlRoot.map({ URL(fileURLWithPath: $0) }) ?? Self.defaultSQLRoot() else {
                Failure.printError([
                    "cannot find Migrations/ and sql/ above the current folder or the executable",
                    "hint: pass --sql-root DIR",
                ])
                throw ExitCode(Failure.noInput)
            }
            let report = try await connection.withStore { try await $0.migrate(sqlRoot: root) }
            if connection.json {
                try Output.printJSON(report)
                return
            }
            var table = Table(.init(header: "KIND"), .init(header: "NAME"), .init(header: "STATUS"), .init(header: "CHECKSUM"))
            for step in report.migrations {
                table.append("migration", step.name, step.status, String(step.checksum.prefix(12)))
            }
            for step in report.api {
                table.append("api", step.name, step.status, String(step.checksum.prefix(12)))
            }
            print("migrating from \(root.path)")
            print(table.render())
            let applied = report.migrations.filter { $0.status == "applied" }.count
            let apiApplied = report.api.filter { $0.status == "applied" }.count
            print("migrations: \(applied) applied, \(report.migrations.count - applied) unchanged; "
                + "API files: \(apiApplied) applied, \(report.api.count - apiApplied) unchanged")
        }

        static func isSQLRoot(_ url: URL) -> Bool {
            let manager = FileManager.default
            var isDirectory: ObjCBool = false
            return manager.fileExists(atPath: url.appendingPathComponent("Migrations").path, isDirectory: &isDirectory)
                && isDirectory.boolValue
                && manager.fileExists(atPath: url.appendingPathComponent("sql/migrator.sql").path)
        }

        /// The nearest ancestor of the current folder, else of the executable, holding Migrations/ and sql/.
        static func defaultSQLRoot() -> URL? {
            let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            let executable = URL(fileURLWithPath: selfExecutablePath()).resolvingSymlinksInPath()
            for start in [cwd, executable.deletingLastPathComponent()] {
                var url = start.standardizedFileURL
                while true {
                    if isSQLRoot(url) { return url }
                    let parent = url.deletingLastPathComponent()
                    if parent.path == url.path { break }
                    url = parent
                }
            }
            return nil
        }
    }
}

/// The path of the running executable (for `demo` and the default `--sql-root`).
func selfExecutablePath() -> String {
    Bundle.main.executablePath ?? CommandLine.arguments[0]
}
