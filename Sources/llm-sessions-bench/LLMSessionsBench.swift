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

    func run() async throws {
        let configuration = databaseURL.map(ConnectionConfiguration.init(connectionString:)) ?? .fromEnvironment()
        // One connection: the same single client that pgbench runs with.
        let store = SessionStore(configuration: configuration, poolSize: 1)

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
}
