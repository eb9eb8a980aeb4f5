import Foundation
import Testing
@testable import LLMSessions

@Suite("The connection pool: concurrency, dropped connections, a server that is down")
struct ConnectionPoolTests {
    @Test("32 concurrent appends through a pool of 4 lose no turn")
    func concurrentAppends() async throws {
        let store = try TestDatabase.makeStore(poolSize: 4)
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("concurrent"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)

            let results = try await withThrowingTaskGroup(of: AppendedTurn.self) { group in
                for n in 1...32 {
                    group.addTask {
                        try await store.appendTurn(to: id, question: "q\(n)", response: "r\(n)", tokens: n)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 32)
            #expect(Set(results.map(\.turn.seq)) == Set(1...32))

            let session = try #require(try await store.session(id))
            #expect(session.turnCount == 32)
            #expect(session.totalTokens == Int64((1...32).reduce(0, +)))
            #expect(session.conversationHistory.map(\.seq) == Array(1...32), "gapless, in order")
            #expect(Set(session.conversationHistory.map(\.question)) == Set((1...32).map { "q\($0)" }))
        }
        await store.close()
    }

    @Test("the pool opens at most poolSize connections")
    func poolSizeIsRespected() async throws {
        let name = TestDatabase.uniqueID("pool-size")
        let store = try TestDatabase.makeStore(poolSize: 2, applicationName: name)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask { _ = try await store.listSessions(agentRole: name, limit: 1) }
            }
            try await group.waitForAll()
        }
        let backends = try await TestDatabase.backends(named: name)
        #expect((1...2).contains(backends.count), "\(backends)")
        await store.close()
        #expect(try await TestDatabase.eventually { try await TestDatabase.backends(named: name).isEmpty },
                "close() disconnects")
    }

    @Test("a server that is not there is connectionLost")
    func serverDown() async throws {
        let socketFolder = FileManager.default.temporaryDirectory.appendingPathComponent("llm-no-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: socketFolder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: socketFolder) }
        let store = SessionStore(
            configuration: ConnectionConfiguration(connectionString: "host=\(socketFolder.path) port=5999 user=postgres dbname=llm_sessions connect_timeout=5"),
            poolSize: 1
        )
        for call in 0..<2 {
            do {
                _ = try await store.session("anything")
                Issue.record("call \(call) succeeded without a server")
            } catch let error as SessionStoreError {
                guard case .connectionLost(let message) = error else {
                    Issue.record("expected connectionLost, got \(error)")
                    continue
                }
                #expect(message.contains(socketFolder.path) || message.lowercased().contains("connect"), "\(message)")
            }
        }
        await store.close()
    }

    @Test("a closed store fails with connectionLost")
    func closedStore() async throws {
        let store = try TestDatabase.makeStore(poolSize: 1)
        _ = try await store.listSessions(limit: 1)
        await store.close()
        await #expect(throws: SessionStoreError.connectionLost("the session store has been closed")) {
            _ = try await store.listSessions(limit: 1)
        }
    }

    @Test("a read on a connection the server terminated is retried on a new one")
    func readRetriedAfterTermination() async throws {
        let name = TestDatabase.uniqueID("retry-read")
        let store = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("retry-read"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            let before = try await TestDatabase.backends(named: name)
            #expect(before.count == 1)

            try await TestDatabase.superuser("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [name])
            #expect(try await TestDatabase.eventually { try await TestDatabase.backends(named: name).isEmpty })

            let session = try await store.session(id)
            #expect(session?.sessionID == id)
            let after = try await TestDatabase.backends(named: name)
            #expect(after.count == 1 && after != before, "a new backend: \(before) -> \(after)")
        }
        await store.close()
    }

    /// Holds the row lock of a session in an open transaction on a connection of its own.
    private final class RowLocker: Sendable {
        let worker: ConnectionWorker

        init(_ sessionID: String) async throws {
            worker = ConnectionWorker(configuration: try TestDatabase.configuration(applicationName: "llm-sessions-tests-locker"), name: "locker")
            try await worker.run { (connection) throws(DatabaseFailure) in
                try connection.ensureConnected()
                try connection.query("BEGIN")
                try connection.query("SELECT 1 FROM llm.sessions WHERE session_id = $1 FOR UPDATE", [sessionID])
            }
        }

        func release() async throws {
            _ = try await worker.run { (connection) throws(DatabaseFailure) in try connection.query("ROLLBACK") }
            worker.stop()
        }
    }

    @Test("an append without requestID whose connection drops mid-call is not retried", .timeLimit(.minutes(1)))
    func appendWithoutRequestIDNotRetried() async throws {
        let name = TestDatabase.uniqueID("no-retry")
        let store = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("no-retry"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            let locker = try await RowLocker(id)

            let append = Task { try await store.appendTurn(to: id, question: "q", response: "r", tokens: 1) }
            #expect(try await TestDatabase.eventually { try await !TestDatabase.backends(named: name, waitingOnLock: true).isEmpty })
            try await TestDatabase.superuser("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [name])

            let result = await append.result
            try await locker.release()
            switch result {
            case .success(let appended):
                Issue.record("the append went through: \(appended)")
            case .failure(let error):
                guard case .connectionLost? = error as? SessionStoreError else {
                    Issue.record("expected connectionLost, got \(error)")
                    return
                }
            }
            // The next call reconnects; the dropped append stored nothing.
            let session = try #require(try await store.session(id))
            #expect(session.turnCount == 0)
        }
        await store.close()
    }

    @Test("an append with a requestID whose connection drops mid-call is retried once, exactly once stored", .timeLimit(.minutes(1)))
    func appendWithRequestIDRetried() async throws {
        let name = TestDatabase.uniqueID("retry-append")
        let store = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("retry-append"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            let locker = try await RowLocker(id)

            let append = Task { try await store.appendTurn(to: id, question: "q", response: "r", tokens: 7, requestID: "req-1") }
            let first = try await TestDatabase.eventually { try await !TestDatabase.backends(named: name, waitingOnLock: true).isEmpty }
            #expect(first)
            let killed = try await TestDatabase.backends(named: name)
            try await TestDatabase.superuser("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [name])
            // The retry runs on a new backend and waits for the same lock.
            let retried = try await TestDatabase.eventually {
                let waiting = try await TestDatabase.backends(named: name, waitingOnLock: true)
                return !waiting.isEmpty && waiting != killed
            }
            #expect(retried)
            try await locker.release()

            let appended = try await append.value
            #expect(appended.turn.seq == 1)
            #expect(appended.replayed == false)
            #expect(appended.turnCount == 1)
            let session = try #require(try await store.session(id))
            #expect(session.turnCount == 1)
            #expect(session.totalTokens == 7)
        }
        await store.close()
    }

    @Test("blocked database calls leave Swift's cooperative threads free", .timeLimit(.minutes(1)))
    func blockingCallsStayOffTheCooperativePool() async throws {
        let name = TestDatabase.uniqueID("blocked")
        let store = try TestDatabase.makeStore(poolSize: 4, applicationName: name)
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("blocked"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            let locker = try await RowLocker(id)

            // Four appends block inside libpq, more than this machine has cooperative threads.
            let appends = (1...4).map { n in
                Task { try await store.appendTurn(to: id, question: "q\(n)", response: "r", requestID: "blocked-\(n)") }
            }
            #expect(try await TestDatabase.eventually {
                try await TestDatabase.backends(named: name, waitingOnLock: true).count == 4
            })
            // Meanwhile, plain Swift work still runs to completion.
            let sum = await withTaskGroup(of: Int.self) { group in
                for n in 1...16 { group.addTask { (1...n).reduce(0, +) } }
                return await group.reduce(0, +)
            }
            #expect(sum == (1...16).map { $0 * ($0 + 1) / 2 }.reduce(0, +))

            try await locker.release()
            var sequences: [Int] = []
            for append in appends { sequences.append(try await append.value.turn.seq) }
            #expect(sequences.sorted() == [1, 2, 3, 4])
        }
        await store.close()
    }

    @Test("a task waiting for a connection can be cancelled", .timeLimit(.minutes(1)))
    func waitingTaskCancelled() async throws {
        let name = TestDatabase.uniqueID("cancel")
        let store = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("cancel"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            let locker = try await RowLocker(id)

            let holder = Task { try await store.appendTurn(to: id, question: "q", response: "r", requestID: "holder") }
            #expect(try await TestDatabase.eventually {
                try await TestDatabase.backends(named: name, waitingOnLock: true).count == 1
            })
            let waiter = Task { try await store.session(id) }
            try await Task.sleep(for: .milliseconds(50))
            waiter.cancel()
            let outcome = await waiter.result
            #expect(throws: CancellationError.self) { try outcome.get() }

            try await locker.release()
            #expect(try await holder.value.turnCount == 1)
            #expect(try await store.session(id)?.turnCount == 1, "the pool still works after a cancelled wait")
        }
        await store.close()
    }
}
