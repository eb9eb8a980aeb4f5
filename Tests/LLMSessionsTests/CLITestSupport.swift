import Foundation
import Testing

/// Runs the built `llm-sessions` executable as a subprocess against the project's local server.
enum CLI {
    /// What one run of the executable left behind.
    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String

        var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }

        /// stdout decoded as JSON.
        func json<T: Decodable>(_ type: T.Type = T.self) throws -> T {
            try JSONDecoder().decode(T.self, from: Data(stdout.utf8))
        }

        /// stdout as an untyped JSON object.
        func object() throws -> [String: Any] {
            let value = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
            return try #require(value as? [String: Any], "stdout is not a JSON object: \(stdout)")
        }
    }

    /// The repository root: this file is Tests/LLMSessionsTests/CLITestSupport.swift.
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The executable: $LLM_SESSIONS_BIN, else beside the test bundle in the products folder, else .build/debug.
    static let executable: URL? = {
        var candidates: [URL] = []
        if let path = ProcessInfo.processInfo.environment["LLM_SESSIONS_BIN"] {
            candidates.append(URL(fileURLWithPath: path))
        }
        // On Linux the test bundle is an executable in the products folder; on macOS a bundle in it.
        for bundle in [Bundle.main.bundleURL] + Bundle.allBundles.map(\.bundleURL) {
            let folder = bundle.pathExtension == "xctest" ? bundle.deletingLastPathComponent() : bundle
            candidates.append(folder.appendingPathComponent("llm-sessions"))
        }
        candidates.append(repoRoot.appendingPathComponent(".build/debug/llm-sessions"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// The server's conninfo, from the shared test setup (DATABASE_URL, else the local cluster,
    /// started and migrated once per test process), or the reason there is none.
    static func conninfo() throws -> String { try TestDatabase.setup.get() }

    /// Runs `llm-sessions ARGS --database-url <local server>`.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        try runWithoutDatabase(arguments + ["--database-url", conninfo()], environment: environment)
    }

    /// Runs `llm-sessions ARGS` with no DATABASE_URL or PG* variables unless `environment` sets them.
    static func runWithoutDatabase(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let executable = try #require(executable, "the llm-sessions executable is not built (swift build --product llm-sessions)")
        return launch(executable, arguments, environment: environment)
    }

    /// A session id no other test uses.
    static func uniqueID(_ prefix: String = "cli-test") -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs a program, waits, and returns its status and output (through files, so no pipe can fill up).
    static func launch(_ program: URL, _ arguments: [String], environment: [String: String] = [:]) -> Result {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        process.currentDirectoryURL = repoRoot
        var inherited = ProcessInfo.processInfo.environment.filter {
            $0.key != "DATABASE_URL" && !($0.key.hasPrefix("PG") && $0.key != "PGPASSFILE")
        }
        inherited.merge(environment) { $1 }
        process.environment = inherited
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("llm-cli-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let outURL = folder.appendingPathComponent("stdout")
        let errURL = folder.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        do {
            let out = try FileHandle(forWritingTo: outURL)
            let err = try FileHandle(forWritingTo: errURL)
            defer { try? out.close(); try? err.close() }
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
        } catch {
            return Result(status: -1, stdout: "", stderr: "could not run \(program.path): \(error)")
        }
        let read = { (url: URL) in (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
        return Result(status: process.terminationStatus, stdout: read(outURL), stderr: read(errURL))
    }
}
