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

    /// Runs `llm-sessions ARGS --database-url <local server>`, with `input` on stdin when given.
    static func run(_ arguments: [String], environment: [String: String] = [:], input: String? = nil) throws -> Result {
        try runWithoutDatabase(arguments + ["--database-url", conninfo()], environment: environment, input: input)
    }

    /// Runs `llm-sessions ARGS` with no DATABASE_URL or PG* variables unless `environment` sets them.
    static func runWithoutDatabase(_ arguments: [String], environment: [String: String] = [:], input: String? = nil) throws -> Result {
        let executable = try #require(executable, "the llm-sessions executable is not built (swift build --product llm-sessions)")
        return launch(executable, arguments, environment: environment, input: input)
    }

    /// Starts `llm-sessions ARGS --database-url <local server>` without waiting for it (`watch`).
    static func start(_ arguments: [String]) throws -> Running {
        let executable = try #require(executable, "the llm-sessions executable is not built (swift build --product llm-sessions)")
        return try Running(executable, arguments + ["--database-url", conninfo()])
    }

    /// A process that runs on while the test reads what it has printed so far.
    final class Running: @unchecked Sendable {
        let process = Process()
        private let lock = NSLock()
        private var out = Data()
        private var err = Data()

        init(_ program: URL, _ arguments: [String]) throws {
            process.executableURL = program
            process.arguments = arguments
            process.currentDirectoryURL = CLI.repoRoot
            process.environment = ProcessInfo.processInfo.environment.filter {
                $0.key != "DATABASE_URL" && !($0.key.hasPrefix("PG") && $0.key != "PGPASSFILE")
            }
            let outPipe = Pipe()
            let errPipe = Pipe()
            process.standardOutput = outPipe
            process.standardError = errPipe
            process.standardInput = FileHandle.nullDevice
            outPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                self?.lock.withLock { self?.out.append(data) }
            }
            errPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                self?.lock.withLock { self?.err.append(data) }
            }
            try process.run()
        }

        /// What the process has written to stdout so far.
        var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
        /// What the process has written to stderr so far.
        var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }

        /// Sends `signal` and waits at most `seconds` for the exit; nil if it did not exit.
        func stop(with signal: Int32 = SIGTERM, within seconds: Double = 10) -> (reason: Process.TerminationReason, status: Int32)? {
            kill(process.processIdentifier, signal)
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            guard !process.isRunning else {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return nil
            }
            return (process.terminationReason, process.terminationStatus)
        }
    }

    /// A session id no other test uses.
    static func uniqueID(_ prefix: String = "cli-test") -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs a program, waits, and returns its status and output (through files, so no pipe can fill up).
    static func launch(_ program: URL, _ arguments: [String], environment: [String: String] = [:], input: String? = nil) -> Result {
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
        let inURL = folder.appendingPathComponent("stdin")
        _ = FileManager.default.createFile(atPath: inURL.path, contents: input.map { Data($0.utf8) })
        do {
            let out = try FileHandle(forWritingTo: outURL)
            let err = try FileHandle(forWritingTo: errURL)
            let inputHandle = try FileHandle(forReadingFrom: inURL)
            defer { try? out.close(); try? err.close(); try? inputHandle.close() }
            process.standardOutput = out
            process.standardError = err
            process.standardInput = input == nil ? FileHandle.nullDevice : inputHandle
            try process.run()
            process.waitUntilExit()
        } catch {
            return Result(status: -1, stdout: "", stderr: "could not run \(program.path): \(error)")
        }
        let read = { (url: URL) in (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
        return Result(status: process.terminationStatus, stdout: read(outURL), stderr: read(errURL))
    }
}
