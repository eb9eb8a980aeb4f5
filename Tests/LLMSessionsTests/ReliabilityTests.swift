import Foundation
import Testing
@testable import LLMSessions

/// Set by `Tests/reliability/client_faults.sh`, which runs a scratch server that may be restarted:
/// `LLM_RELIABILITY_CONNINFO` reaches it, `LLM_RELIABILITY_RESTART` is a shell command restarting it.
/// Without both the suite is skipped (a plain `swift test` must never restart a server).
enum ReliabilityEnvironment {
    static let conninfo = ProcessInfo.processInfo.environment["LLM_RELIABILITY_CONNINFO"] ?? ""
    static let restartCommand = ProcessInfo.processInfo.environment["LLM_RELIABILITY_RESTART"] ?? ""
    static var isSet: Bool { !conninfo.isEmpty && !restartCommand.isEmpty }
}

@Suite(
    "Reliability: one SessionStore across a server restart",
    .enabled(if: ReliabilityEnvironment.isSet, "run by Tests/reliability/client_faults.sh against a scratch server")
)
struct ReliabilityTests {
    /// What one attempt of one append did.
    struct Attempt: Sendable {
        enum Outcome: Sendable, Equatable {
            case stored(seq: Int, replayed: Bool)
            case connectionLost(String)
            case failed(String)
        }
        var writer: Int
        var requestID: String?
        var question: String
        var attempt: Int
        /// Started after the restart command had returned (the server was up again).
        var startedAfterRestart: Bool
        var outcome: Outcome
    }

    /// The attempts of every writer and where the restart stands.
    actor Log {
        private(set) var attempts: [Attempt] = []
        private(set) var restarted = false
        private(set) var stopped = false

        func add(_ attempt: Attempt) { attempts.append(attempt) }
        func markRestarted() { restarted = true }
        func stop() { stopped = true }

        /// The appends of `writer` that were stored, counting those started after the restart.
        func stored(by writer: Int, afterRestart: Bool) -> Int {
            attempts.filter {
                guard $0.writer == writer, case .stored = $0.outcome else { return false }
                return !afterRestart || $0.startedAfterRestart
            }.count
        }
    }

    static let idempotentWriters = 3
    static let plainWriters = 1
    static let appendsBeforeRestart = 10   // per writer, at least
    static let appendsAfterRestart = 20    // per writer, at least
    static let maxAppends = 2_000          // per writer, at most
    static let maxAttempts = 200           // per request, 100 ms apart

    @Test("appends go on across a server restart on the same store: none lost, none duplicated", .timeLimit(.minutes(3)))
    func appendsAcrossRestart() async throws {
        let configuration = ConnectionConfiguration(connectionString: ReliabilityEnvironment.conninfo)
        let store = SessionStore(configuration: configuration, poolSize: Self.idempotentWriters + Self.plainWriters)
        let sessionID = "reliability-restart-\(UUID().uuidString.prefix(12).lowercased())"
        _ = try await store.createSession(agentRole: "reliability", sessionID: sessionID)
        let startedBefore = try await Self.postmasterStartTime(store)

        let log = Log()
        let writers = Self.idempotentWriters + Self.plainWriters
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                let idempotent = writer < Self.idempotentWriters
                group.addTask { await Self.write(writer, idempotent: idempotent, to: sessionID, store: store, log: log) }
            }
            group.addTask {
                do {
                    try await Self.restartUnderLoad(writers: writers, log: log)
                } catch {
                    await log.stop()
                    throw error
                }
                await log.stop()
            }
            try await group.waitForAll()
        }

        let attempts = await log.attempts
        let startedAfter = try await Self.postmasterStartTime(store)
        #expect(startedAfter != startedBefore, "the server was restarted: \(startedBefore) -> \(startedAfter)")

        // What the store reported.
        let failures = attempts.filter { if case .failed = $0.outcome { return true } else { return false } }
        #expect(failures.isEmpty, "no error but connectionLost: \(failures.prefix(3))")
        let lost = attempts.filter { if case .connectionLost = $0.outcome { return true } else { return false } }
        #expect(!lost.isEmpty, "the restart cut calls in flight (else it tested nothing)")
        let lostAfter = lost.filter(\.startedAfterRestart)
        #expect(lostAfter.isEmpty, "no call started after the restart failed: \(lostAfter.prefix(3))")
        let gaveUp = Dictionary(grouping: attempts.filter { $0.requestID != nil }, by: \.requestID!)
            .filter { _, tries in !tries.contains { if case .stored = $0.outcome { return true } else { return false } } }
        #expect(gaveUp.isEmpty, "every request with a requestID was stored in the end: \(gaveUp.keys.sorted().prefix(3))")
        let firstTries = attempts.filter { $0.requestID != nil && $0.attempt == 0 }
        for attempt in firstTries {
            if case .stored(_, let replayed) = attempt.outcome {
                #expect(!replayed, "a first attempt is never a replay: \(attempt)")
            }
        }

        // What the server holds.
        let session = try #require(try await store.session(sessionID))
        let history = session.conversationHistory
        #expect(history.map(\.seq) == Array(1..<(history.count + 1)), "seq is 1..N, gapless")
        #expect(session.turnCount == history.count)
        #expect(session.totalTokens == Int64(history.reduce(0) { $0 + $1.tokens }))
        let storedRequestIDs = history.compactMap(\.requestID)
        let requested = Set(attempts.compactMap(\.requestID))
        #expect(storedRequestIDs.count == Set(storedRequestIDs).count, "no requestID is stored twice")
        #expect(Set(storedRequestIDs) == requested, "every requestID sent is stored, and nothing else")
        for attempt in attempts where attempt.requestID != nil {
            if case .stored(let seq, _) = attempt.outcome {
                #expect(history.first { $0.seq == seq }?.requestID == attempt.requestID, "an answer's seq holds its request: \(attempt)")
            }
        }
        let plain = attempts.filter { $0.requestID == nil }
        let plainStoredCount = Dictionary(grouping: history.filter { $0.requestID == nil }, by: \.question).mapValues(\.count)
        for attempt in plain {
            let copies = plainStoredCount[attempt.question] ?? 0
            switch attempt.outcome {
            case .stored: #expect(copies == 1, "an acknowledged plain append is stored once: \(attempt.question)")
            default: #expect(copies <= 1, "a plain append whose answer was lost is stored at most once: \(attempt.question)")
            }
        }
        #expect(history.count == requested.count + plainStoredCount.count)

        // For the script's report: how often the store gave up on a requestID append (the server
        // was still down when it retried) and the caller had to retry it.
        let lostWithID = lost.filter { $0.requestID != nil }.count
        let lostPlain = lost.filter { $0.requestID == nil }
        let lostPlainCommitted = lostPlain.filter { plainStoredCount[$0.question] != nil }.count
        print("reliability: \(attempts.count) append attempts, \(history.count) turns stored; connectionLost \(lost.count) times:"
            + " \(lostWithID) with a requestID (retried by the caller),"
            + " \(lostPlain.count) without (not retried; \(lostPlainCommitted) of them had committed)")
        _ = try await store.endSession(sessionID)
        await store.close()
    }

    /// Waits until every writer has stored some appends, restarts the server, and waits until every
    /// writer has stored more appends that it started after the restart.
    static func restartUnderLoad(writers: Int, log: Log) async throws {
        let loaded = try await TestDatabase.eventually(within: 60) {
            for writer in 0..<writers where await log.stored(by: writer, afterRestart: false) < appendsBeforeRestart {
                return false
            }
            return true
        }
        #expect(loaded, "every writer stored \(appendsBeforeRestart) appends before the restart")

        let status = try await run(ReliabilityEnvironment.restartCommand)
        #expect(status == 0, "the restart command exited \(status)")
        await log.markRestarted()

        let wentOn = try await TestDatabase.eventually(within: 60) {
            for writer in 0..<writers where await log.stored(by: writer, afterRestart: true) < appendsAfterRestart {
                return false
            }
            return true
        }
        #expect(wentOn, "every writer stored \(appendsAfterRestart) appends it started after the restart")
    }

    /// One writer: appends until told to stop. With `idempotent`, every append carries a requestID
    /// and is retried with it after connectionLost, as a caller should; without, it is not retried.
    static func write(_ writer: Int, idempotent: Bool, to sessionID: String, store: SessionStore, log: Log) async {
        var number = 0
        while number < maxAppends, await !log.stopped {
            number += 1
            let requestID = idempotent ? "w\(writer)-\(number)" : nil
            let question = "writer \(writer) append \(number)"
            var attempt = 0
            while attempt < (idempotent ? maxAttempts : 1) {
                let afterRestart = await log.restarted
                let outcome: Attempt.Outcome
                do {
                    let appended = try await store.appendTurn(
                        to: sessionID, question: question, response: "response", tokens: number % 7, requestID: requestID)
                    outcome = .stored(seq: appended.turn.seq, replayed: appended.replayed)
                } catch SessionStoreError.connectionLost(let message) {
                    outcome = .connectionLost(message)
                } catch {
                    outcome = .failed("\(error)")
                }
                await log.add(Attempt(writer: writer, requestID: requestID, question: question, attempt: attempt,
                                      startedAfterRestart: afterRestart, outcome: outcome))
                guard case .connectionLost = outcome else { break }
                attempt += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// When the server's postmaster started, as text: changes with every restart.
    static func postmasterStartTime(_ store: SessionStore) async throws -> String? {
        try await store.withConnection(context: CallContext()) { (connection) throws(DatabaseFailure) -> String? in
            try connection.ensureConnected()
            return try connection.query("SELECT pg_postmaster_start_time()::text").singleValue
        }
    }

    /// Runs a shell command and returns its exit status, waiting on a thread of its own so that no
    /// cooperative thread blocks. posix_spawn and waitpid, not Foundation's Process: here Process
    /// never reaped the shell (it stayed a zombie, and neither waitUntilExit nor terminationHandler returned).
    static func run(_ command: String) async throws -> Int32 {
        struct SpawnError: Error { var errno: Int32 }
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                var pid: pid_t = 0
                var argv: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", command].map { (argument: String) in strdup(argument) } + [nil]
                defer { for argument in argv { free(argument) } }
                let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ)
                guard spawned == 0 else { return continuation.resume(throwing: SpawnError(errno: spawned)) }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 {
                    guard errno == EINTR else { return continuation.resume(throwing: SpawnError(errno: errno)) }
                }
                // WIFEXITED / WEXITSTATUS, which Swift does not import: the low 7 bits are the
                // terminating signal (0 for a normal exit), the next 8 the exit code.
                continuation.resume(returning: status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            }.start()
        }
    }
}
