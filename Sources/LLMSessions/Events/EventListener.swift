import CLibPQ
import Foundation

/// One `LISTEN llm_sessions` connection on its own thread, feeding a `SessionEvents` stream.
///
/// The thread owns the connection: it connects, listens, waits in `poll()` for notifications or
/// for `stop()` (through a pipe, so stopping never waits for a timeout), reconnects with backoff
/// when the connection drops, and on stop closes the connection and finishes the stream.
final class EventListener: @unchecked Sendable {
    /// The channel every `llm._notify` sends on.
    static let channel = "llm_sessions"
    /// How long one wait for notifications lasts before the thread looks around.
    static let waitTimeout: Duration = .seconds(1)
    /// How long a silent connection may go unchecked: then a `SELECT 1` proves it alive, since a
    /// connection lost without a word (a dead network) would otherwise never show.
    static let probeInterval: Duration = .seconds(30)
    /// Reconnection delays: the first, and the most it grows to by doubling.
    static let firstBackoff: Duration = .milliseconds(100)
    static let maxBackoff: Duration = .seconds(5)

    private let configuration: ConnectionConfiguration
    private let agentRole: String?
    private let continuation: AsyncThrowingStream<SessionEvent, any Error>.Continuation
    private let listeners: EventListeners

    private let lock = NSLock()
    private var isStopping = false
    /// The pipe `stop()` writes to, to wake the thread; -1 once the thread has closed it.
    private var wakeRead: Int32 = -1
    private var wakeWrite: Int32 = -1

    init(
        configuration: ConnectionConfiguration, agentRole: String?,
        continuation: AsyncThrowingStream<SessionEvent, any Error>.Continuation, listeners: EventListeners
    ) {
        self.configuration = configuration
        self.agentRole = agentRole
        self.continuation = continuation
        self.listeners = listeners

        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else {
            continuation.finish(throwing: SessionStoreError.connectionLost(
                "cannot listen for events: pipe() failed: \(String(cString: strerror(errno)))"))
            return
        }
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        (wakeRead, wakeWrite) = (descriptors[0], descriptors[1])

        guard listeners.add(self) else {
            closeWakePipe()
            continuation.finish(throwing: SessionStoreError.connectionLost("the session store has been closed"))
            return
        }
        // Cancelling the consuming task terminates the stream; that stops the thread too.
        continuation.onTermination = { [weak self] _ in self?.stop() }
        // The thread keeps the listener alive until `run()` returns.
        let thread = Thread { [self] in self.run() }
        thread.name = "llm-sessions.events"
        thread.start()
    }

    /// Asks the thread to close the connection, finish the stream and end. Returns at once; safe to call more than once.
    func stop() {
        lock.withLock {
            guard !isStopping else { return }
            isStopping = true
            if wakeWrite >= 0 {
                var byte: UInt8 = 1
                _ = write(wakeWrite, &byte, 1)
            }
        }
    }

    private var shouldStop: Bool {
        lock.withLock { isStopping }
    }

    // MARK: - The thread

    private func run() {
        defer {
            closeWakePipe()
            listeners.remove(self)
        }
        var hasListened = false
        var backoff = Self.firstBackoff
        while !shouldStop {
            let connection = PGConnection(configuration: configuration, applicationName: "llm-sessions-events")
            do throws(DatabaseFailure) {
                try connection.ensureConnected()
                // listen_events() LISTENs and registers this connection: the server sends
                // events only while someone is registered (a NOTIFY serialises commits).
                try connection.query("SELECT llm.listen_events()")
                hasListened = true
                backoff = Self.firstBackoff
                try listen(on: connection)
                connection.close()
            } catch {
                connection.close()
                guard hasListened else {
                    // Never connected: wrong address or credentials, say so rather than retry forever.
                    continuation.finish(throwing: SessionStoreError(error, context: CallContext()))
                    return
                }
                if sleep(backoff) { break }
                backoff = min(backoff * 2, Self.maxBackoff)
            }
        }
        continuation.finish()
    }

    /// Delivers notifications until `stop()`; throws when the connection breaks.
    private func listen(on connection: PGConnection) throws(DatabaseFailure) {
        let clock = ContinuousClock()
        var lastHeard = clock.now
        while !shouldStop {
            var heard = false
            let woken = try connection.waitForNotifications(timeout: Self.waitTimeout, wake: wakeRead) { payload in
                heard = true
                deliver(payload)
            }
            if woken { return }
            if heard {
                lastHeard = clock.now
            } else if clock.now - lastHeard >= Self.probeInterval {
                try connection.query("SELECT 1")
                lastHeard = clock.now
            }
        }
    }

    /// Decodes a payload and yields it when it passes the role filter. Payloads that are not an
    /// event of a known kind (a newer server's, or anyone's `NOTIFY llm_sessions`) are skipped.
    private func deliver(_ payload: String) {
        guard let event = try? SessionJSON.decode(SessionEvent.self, from: payload) else { return }
        if let agentRole, let role = event.agentRole, role != agentRole { return }
        continuation.yield(event)
    }

    /// Waits `duration` unless `stop()` comes first; returns whether it did.
    private func sleep(_ duration: Duration) -> Bool {
        var descriptor = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        _ = poll(&descriptor, 1, milliseconds)
        return shouldStop
    }

    private func closeWakePipe() {
        lock.withLock {
            if wakeRead >= 0 { close(wakeRead) }
            if wakeWrite >= 0 { close(wakeWrite) }
            (wakeRead, wakeWrite) = (-1, -1)
        }
    }
}

/// The event listeners of one store, so that closing the store stops them.
final class EventListeners: @unchecked Sendable {
    private let lock = NSLock()
    private var active: [ObjectIdentifier: EventListener] = [:]
    private var isClosed = false

    /// Registers a listener; `false` when the store is closed already.
    func add(_ listener: EventListener) -> Bool {
        lock.withLock {
            guard !isClosed else { return false }
            active[ObjectIdentifier(listener)] = listener
            return true
        }
    }

    /// Forgets a listener whose thread has ended.
    func remove(_ listener: EventListener) {
        lock.withLock { active[ObjectIdentifier(listener)] = nil }
    }

    /// Stops every listener and refuses new ones. Safe to call more than once.
    func close() {
        let stopping = lock.withLock {
            isClosed = true
            return Array(active.values)
        }
        stopping.forEach { $0.stop() }
    }
}
