import ArgumentParser
import Foundation
import LLMSessions

/// Times SessionStore calls one after another and prints their latencies as JSON,
/// for scripts/bench.py to set beside pgbench's numbers for the same SQL call.
@main
struct LLMSessionsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm-sessions-bench",
        abstract: "Time SessionStore calls and print their latencies (ms) as JSON.")

    enum Operation: String, ExpressibleByArgument, CaseIterable {
        case append, get20, get
    }

    @Option(help: "The call to time: append, get20 (last 20 turns) or get (the whole history).")
    var op: Operation

    @Option(help: "The session to use (it must exist).")
    var session: String

    @Option(help: "How many calls to time.")
    var iterations: Int = 1000

    @Option(help: "Question text for appends.")
    var question: String = "What changed?"

    @Option(help: "Response text for appends.")
    var response: String = "Nothing."

    @Option(name: .customLong("database-url"), help: "Connection string (else DATABASE_URL / PG* variables).")
    var databaseURL: String?

    @Flag(help: "With --op get: read the session once and print peak_rss_bytes (the growth of the peak RSS over the read) instead of latencies.")
    var reportMemory = false

    func validate() throws {
        if reportMemory && op != .get {
            throw ValidationError("--report-memory measures one whole read: use it with --op get")
        }
    }

    func run() async throws {
        let configuration = databaseURL.map(ConnectionConfiguration.init(connectionString:)) ?? .fromEnvironment()
        // One connection: the same single client that pgbench runs with.
        let store = SessionStore(configuration: configuration, poolSize: 1)
        if reportMemory {
            return try await measureMemory(store)
        }

        let call: @Sendable () async throws -> Void
        switch op {
        case .append:
            call = { [session, question, response] in
                _ = try await store.appendTurn(to: session, question: question, response: response, tokens: 100)
            }
        case .get20:
            call = { [session] in _ = try await store.session(session, lastN: 20) }
        case .get:
            call = { [session] in _ = try await store.session(session) }
        }

        // Warm-up: open the connection and let the server cache the plan, as pgbench's first calls do.
        for _ in 0..<min(20, iterations) { try await call() }

        let clock = ContinuousClock()
        var latencies: [Double] = []
        latencies.reserveCapacity(iterations)
        for _ in 0..<iterations {
            let elapsed = try await clock.measure { try await call() }
            latencies.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3)
        }
        await store.close()
        let data = try JSONSerialization.data(withJSONObject: ["latencies_ms": latencies])
        FileHandle.standardOutput.write(data)
    }

    /// Reads the whole session once and reports how far the process's peak RSS rose during the read.
    ///
    /// The peak is a high-water mark, so the baseline is taken after the connection is open (one
    /// small read) but before anything of the session's size has been allocated; a warm-up read of
    /// the whole session would hide the peak being measured.
    func measureMemory(_ store: SessionStore) async throws {
        _ = try await store.session(session, lastN: 1)
        let baseline = Self.peakRSSBytes()
        let read = try await store.session(session)
        let peak = Self.peakRSSBytes()
        await store.close()
        let report: [String: Any] = [
            "peak_rss_bytes": peak - baseline,
            "baseline_rss_bytes": baseline,
            "turns": read?.conversationHistory.count ?? 0,
        ]
        FileHandle.standardOutput.write(try JSONSerialization.data(withJSONObject: report))
    }

    /// The process's peak resident set size so far.
    ///
    /// On Linux this is VmHWM of /proc/self/status: ru_maxrss survives execve, so a child of a
    /// large parent (the Python driver) would report the parent's peak as its own baseline.
    static func peakRSSBytes() -> Int {
        #if os(Linux)
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") {
            return kib * 1024
        }
        return 0
        #else
        var usage = rusage()
        getrusage(RUSAGE_SELF, &usage)
        return usage.ru_maxrss
        #endif
    }
}
