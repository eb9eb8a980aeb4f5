import Foundation

/// A fixed set of connection workers shared by concurrent tasks.
///
/// A task borrows a worker for one call; when none is free it waits in FIFO order, suspended on a
/// continuation (no polling). Connections are opened lazily on first use and re-established when
/// they drop.
final class ConnectionPool: @unchecked Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<ConnectionWorker, any Error>
    }

    private let lock = NSLock()
    private let workers: [ConnectionWorker]
    private var idle: [ConnectionWorker]
    private var waiters: [Waiter] = []
    private var nextWaiterID: UInt64 = 0
    private var isClosed = false

    /// Creates `size` workers (at least one), each with its own thread and, later, its own connection.
    init(configuration: ConnectionConfiguration, size: Int) {
        let workers = (0..<max(1, size)).map {
            ConnectionWorker(configuration: configuration, name: "llm-sessions.connection.\($0)")
        }
        self.workers = workers
        self.idle = workers
    }

    /// Borrows a worker for the duration of `body` and returns it afterwards, even when `body` throws.
    func withWorker<T>(_ body: (ConnectionWorker) async throws -> T) async throws -> T {
        let worker = try await acquire()
        defer { release(worker) }
        return try await body(worker)
    }

    /// Stops every worker; waiting tasks fail with `connectionLost`. Safe to call more than once.
    func close() {
        let pending: [Waiter] = lock.withLock {
            guard !isClosed else { return [] }
            isClosed = true
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in pending {
            waiter.continuation.resume(throwing: DatabaseFailure.connection("the session store has been closed"))
        }
        workers.forEach { $0.stop() }
    }

    private func acquire() async throws -> ConnectionWorker {
        let id = lock.withLock {
            nextWaiterID += 1
            return nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ConnectionWorker, any Error>) in
                let immediate: Result<ConnectionWorker, any Error>? = lock.withLock {
                    if isClosed { return .failure(DatabaseFailure.connection("the session store has been closed")) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let worker = idle.popLast() { return .success(worker) }
                    waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter: Waiter? = lock.withLock {
                guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    private func release(_ worker: ConnectionWorker) {
        let next: Waiter? = lock.withLock {
            if waiters.isEmpty {
                idle.append(worker)
                return nil
            }
            return waiters.removeFirst()
        }
        next?.continuation.resume(returning: worker)
    }
}
