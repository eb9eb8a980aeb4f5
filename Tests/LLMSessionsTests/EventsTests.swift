import Foundation
import Testing
@testable import LLMSessions

/// Collects the events of a `SessionEvents` sequence, each with the moment it arrived.
final class EventInbox: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [(event: SessionEvent, at: ContinuousClock.Instant)] = []
    private var ending: Result<Void, any Error>?

    /// Starts a task that iterates `events` into the inbox until the sequence ends.
    func consume(_ events: SessionEvents) -> Task<Void, Never> {
        Task {
            do {
                for try await event in events {
                    let now = ContinuousClock.now
                    lock.withLock { received.append((event, now)) }
                }
                lock.withLock { ending = .success(()) }
            } catch {
                lock.withLock { ending = .failure(error) }
            }
        }
    }

    /// Every event received so far.
    var events: [SessionEvent] { lock.withLock { received.map(\.event) } }

    /// How the sequence ended, if it has.
    var end: Result<Void, any Error>? { lock.withLock { ending } }

    /// Waits up to `timeout` for an event matching `predicate`; returns it with its arrival time.
    func first(within timeout: Duration = .seconds(10), where predicate: (SessionEvent) -> Bool) async throws -> (event: SessionEvent, at: ContinuousClock.Instant)? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let match = lock.withLock({ received.first { predicate($0.event) } }) { return match }
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}

@Suite("Live events: LISTEN on a dedicated connection")
struct EventsTests {
    /// The pids of the LISTEN connections of the store whose application_name is `name`, once idle (listening).
    static func listeners(named name: String) async throws -> [String] {
        try await TestDatabase.superuser(
            "SELECT pid::text FROM pg_stat_activity WHERE application_name = $1 AND query LIKE '%listen_events%' AND state = 'idle' ORDER BY pid",
            [name]
        ).compactMap { $0.first ?? nil }
    }

    /// Waits until the store named `name` listens; returns the pid of its LISTEN connection.
    static func waitForListener(named name: String, other: String? = nil) async throws -> String {
        var pid: String?
        let listening = try await TestDatabase.eventually(within: 10) {
            pid = try await listeners(named: name).first { $0 != other }
            return pid != nil
        }
        #expect(listening, "no LISTEN connection for \(name)")
        return try #require(pid)
    }

    @Test("an append by another store arrives as an event in well under 2 s")
    func appendArrives() async throws {
        let name = TestDatabase.uniqueID("events-latency")
        let listener = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        let writer = try TestDatabase.makeStore(poolSize: 1)
        let role = TestDatabase.uniqueID("events-role")
        let inbox = EventInbox()
        let consumer = inbox.consume(listener.events(agentRole: role))
        _ = try await Self.waitForListener(named: name)

        try await TestDatabase.withCleanup(writer) { created in
            let id = created(TestDatabase.uniqueID("events"))
            _ = try await writer.createSession(agentRole: role, sessionID: id)
            let create = try await inbox.first { $0.kind == .create && $0.sessionID == id }
            #expect(create?.event == SessionEvent(kind: .create, sessionID: id, agentRole: role))

            var latencies: [Duration] = []
            for n in 1...20 {
                let start = ContinuousClock.now
                try await writer.appendTurn(to: id, question: "q\(n)", response: "r\(n)", tokens: n)
                let arrival = try #require(try await inbox.first { $0.kind == .append && $0.sessionID == id && $0.seq == n },
                                           "append \(n) never arrived")
                #expect(arrival.event == SessionEvent(kind: .append, sessionID: id, agentRole: role, seq: n))
                latencies.append(arrival.at - start)
            }
            let sorted = latencies.sorted()
            let median = sorted[sorted.count / 2]
            print("event latency (append call start -> event received), 20 appends: median \(median), max \(sorted.last!)")
            #expect(sorted.last! < .seconds(2), "\(sorted)")

            try await writer.popTurn(from: id)
            let pop = try await inbox.first { $0.kind == .pop && $0.sessionID == id }
            #expect(pop?.event.seq == 20)
            try await writer.endSession(id)
            let end = try await inbox.first { $0.kind == .end && $0.sessionID == id }
            #expect(end != nil)
        }
        consumer.cancel()
        await consumer.value
        await listener.close()
        await writer.close()
    }

    @Test("events(agentRole:) passes only that role's events (and role-less cleanup batches)")
    func roleFilter() async throws {
        let name = TestDatabase.uniqueID("events-filter")
        let listener = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        let writer = try TestDatabase.makeStore(poolSize: 2)
        let wanted = TestDatabase.uniqueID("events-wanted")
        let other = TestDatabase.uniqueID("events-other")
        let inbox = EventInbox()
        let consumer = inbox.consume(listener.events(agentRole: wanted))
        let everything = EventInbox()
        let allEvents = everything.consume(listener.events())
        try await #require(TestDatabase.eventually { try await Self.listeners(named: name).count == 2 })

        try await TestDatabase.withCleanup(writer) { created in
            let otherID = created(TestDatabase.uniqueID("events-other"))
            let wantedID = created(TestDatabase.uniqueID("events-wanted"))
            _ = try await writer.createSession(agentRole: other, sessionID: otherID)
            try await writer.appendTurn(to: otherID, question: "q", response: "r")
            _ = try await writer.createSession(agentRole: wanted, sessionID: wantedID)
            try await writer.appendTurn(to: wantedID, question: "q", response: "r")

            // Notifications arrive in commit order: once the last one is here, the others have come or been dropped.
            let filtered = try await inbox.first { $0.sessionID == wantedID && $0.kind == .append }
            let unfiltered = try await everything.first { $0.sessionID == wantedID && $0.kind == .append }
            #expect(filtered != nil && unfiltered != nil)
            let received = inbox.events
            #expect(received.allSatisfy { $0.agentRole == wanted || $0.agentRole == nil }, "\(received)")
            #expect(!received.contains { $0.sessionID == otherID })
            #expect(received.filter { $0.sessionID == wantedID }.map(\.kind) == [.create, .append])
            // The unfiltered sequence saw the other role's events, in order.
            #expect(everything.events.filter { $0.sessionID == otherID }.map(\.kind) == [.create, .append])
        }
        consumer.cancel()
        allEvents.cancel()
        await consumer.value
        await allEvents.value
        await listener.close()
        await writer.close()
    }

    @Test("payloads that are not a known event are skipped")
    func unknownPayloads() async throws {
        let name = TestDatabase.uniqueID("events-unknown")
        let listener = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        let role = TestDatabase.uniqueID("events-unknown-role")
        let inbox = EventInbox()
        let consumer = inbox.consume(listener.events(agentRole: role))
        _ = try await Self.waitForListener(named: name)

        for payload in [#"{"event": "teleport", "session_id": "x", "agent_role": "\#(role)"}"#, "not json", #"{"session_id": "y"}"#,
                        #"{"event": "end", "session_id": "marker", "agent_role": "\#(role)", "seq": null}"#] {
            try await TestDatabase.superuser("SELECT pg_notify('llm_sessions', $1)", [payload])
        }
        let marker = try await inbox.first { $0.sessionID == "marker" }
        #expect(marker?.event == SessionEvent(kind: .end, sessionID: "marker", agentRole: role))
        #expect(inbox.events.filter { $0.agentRole == role } == [SessionEvent(kind: .end, sessionID: "marker", agentRole: role)])
        consumer.cancel()
        await consumer.value
        await listener.close()
    }

    @Test("after its backend is terminated the listener reconnects, listens again and delivers")
    func reconnects() async throws {
        let name = TestDatabase.uniqueID("events-reconnect")
        let listener = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        let writer = try TestDatabase.makeStore(poolSize: 1)
        let role = TestDatabase.uniqueID("events-reconnect-role")
        let inbox = EventInbox()
        let consumer = inbox.consume(listener.events(agentRole: role))
        let first = try await Self.waitForListener(named: name)

        try await TestDatabase.withCleanup(writer) { created in
            let id = created(TestDatabase.uniqueID("events-reconnect"))
            _ = try await writer.createSession(agentRole: role, sessionID: id)
            let create = try await inbox.first { $0.kind == .create && $0.sessionID == id }
            #expect(create != nil)

            let terminated = try await TestDatabase.superuser("SELECT pg_terminate_backend($1::integer)::text", [first])
            #expect(terminated.first?.first == "true")
            let second = try await Self.waitForListener(named: name, other: first)
            #expect(second != first)
            #expect(try await Self.listeners(named: name) == [second], "the old connection is gone, one listens")

            try await writer.appendTurn(to: id, question: "after", response: "reconnect")
            let event = try await inbox.first(within: .seconds(5)) { $0.kind == .append && $0.sessionID == id }
            #expect(event?.event.seq == 1, "\(inbox.events)")
            #expect(inbox.end == nil, "the sequence goes on")
        }
        consumer.cancel()
        await consumer.value
        await listener.close()
        await writer.close()
    }

    @Test("cancelling the consuming task ends the sequence and closes its connection")
    func cancellation() async throws {
        let name = TestDatabase.uniqueID("events-cancel")
        let store = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        let inbox = EventInbox()
        let consumer = inbox.consume(store.events())
        _ = try await Self.waitForListener(named: name)

        let start = ContinuousClock.now
        consumer.cancel()
        await consumer.value
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(try await TestDatabase.eventually(within: 5) { try await TestDatabase.backends(named: name).isEmpty },
                "the LISTEN connection is closed")
        // The store itself goes on working.
        _ = try await store.listSessions(agentRole: name, limit: 1)
        await store.close()
    }

    @Test("closing the store ends its sequences without an error")
    func closingTheStore() async throws {
        let name = TestDatabase.uniqueID("events-close")
        let store = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        let inbox = EventInbox()
        let consumer = inbox.consume(store.events())
        _ = try await Self.waitForListener(named: name)

        await store.close()
        await consumer.value
        #expect(throws: Never.self) { try inbox.end?.get() }
        #expect(try await TestDatabase.eventually(within: 5) { try await TestDatabase.backends(named: name).isEmpty })

        // A closed store's events end at once with connectionLost.
        await #expect(throws: SessionStoreError.connectionLost("the session store has been closed")) {
            for try await _ in store.events() {}
        }
    }

    @Test("dropping the sequence without iterating it closes its connection")
    func droppedSequence() async throws {
        let name = TestDatabase.uniqueID("events-drop")
        let store = try TestDatabase.makeStore(poolSize: 1, applicationName: name)
        do {
            let events = store.events()
            _ = try await Self.waitForListener(named: name)
            _ = events
        }
        #expect(try await TestDatabase.eventually(within: 5) { try await TestDatabase.backends(named: name).isEmpty },
                "the LISTEN connection is closed")
        await store.close()
    }

    @Test("a server that cannot be reached makes the sequence throw connectionLost")
    func unreachable() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("llm-no-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = SessionStore(configuration: ConnectionConfiguration(
            connectionString: "host=\(folder.path) port=5999 user=postgres dbname=llm_sessions connect_timeout=5"))
        do {
            for try await event in store.events() { Issue.record("got \(event) without a server") }
            Issue.record("the sequence ended without an error")
        } catch SessionStoreError.connectionLost(let message) {
            #expect(message.contains(folder.path) || message.lowercased().contains("connect"), "\(message)")
        }
        await store.close()
    }

    @Test("SessionJSON encodes an event with the payload's snake_case keys")
    func encoding() throws {
        let event = SessionEvent(kind: .import, sessionID: "s", agentRole: "r", seq: nil, count: nil)
        #expect(try SessionJSON.encode(event) == #"{"agent_role":"r","event":"import","session_id":"s"}"#)
        let batch = try SessionJSON.decode(SessionEvent.self, from: #"{"event": "archive", "session_id": null, "agent_role": null, "seq": null, "count": 7}"#)
        #expect(batch == SessionEvent(kind: .archive, count: 7))
    }
}
