import Foundation

/// A dedicated OS thread that owns one `PGConnection` and runs blocking libpq calls on it.
///
/// libpq blocks its caller; running it on Swift's cooperative pool would stall unrelated tasks.
/// Jobs are queued here, executed in order on the worker's own thread, and their results handed
/// back to the awaiting task through a continuation.
final class ConnectionWorker: @unchecked Sendable {
    typealias Job = @Sendable () -> Void

    /// The connection this worker drives; touched only from the worker thread (and by `close`).
    let connection: PGConnection

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var isStopping = false

    init(configuration: ConnectionConfiguration, name: String) {
        self.connection = PGConnection(configuration: configuration)
        // The thread keeps the worker alive until `stop()` lets the loop return.
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.start()
    }

    /// Runs `body` with the connection on the worker thread and returns its result to the caller.
    func run<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws(DatabaseFailure) -> T) async throws(DatabaseFailure) -> T {
        let result: Result<T, DatabaseFailure> = await withCheckedContinuation { continuation in
            let connection = self.connection
            let accepted = enqueue {
                let outcome: Result<T, DatabaseFailure>
                do throws(DatabaseFailure) {
                    outcome = .success(try body(connection))
                } catch {
                    outcome = .failure(error)
                }
                continuation.resume(returning: outcome)
            }
            if !accepted {
                continuation.resume(returning: .failure(.connection("the session store has been closed")))
            }
        }
        return try result.get()
    }

    /// Lets queued jobs finish, then closes the connection and ends the thread. Returns immediately.
    func stop() {
        condition.lock()
        isStopping = true
        condition.signal()
        condition.unlock()
    }

    private func enqueue(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isStopping else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !isStopping {
                condition.wait()
            }
            if jobs.isEmpty {
                // Stopping and drained: release the connection; returning ends the thread.
                condition.unlock()
                connection.close()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
