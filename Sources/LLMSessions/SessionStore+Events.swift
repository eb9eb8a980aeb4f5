import Foundation

extension SessionStore {
    /// The live events of the sessions, as they commit: creates, appends, pops, ends, forks,
    /// imports, archives and restores, of every client of the database.
    ///
    /// Listening starts at once, on a dedicated connection (not one of the pool's) driven by its own
    /// thread, which runs `LISTEN llm_sessions` and waits for notifications. When that connection
    /// drops, it reconnects by itself with backoff (0.1 s doubling up to 5 s) and listens again;
    /// events committed while it was away are not delivered, so re-read what matters after a gap.
    /// The sequence ends, and its connection is closed, when the consuming task is cancelled, the
    /// sequence is dropped, or the store is closed.
    ///
    /// ```swift
    /// for try await event in store.events(agentRole: "ceo") {
    ///     print(event.kind, event.sessionID ?? "-", event.seq ?? 0)
    /// }
    /// ```
    ///
    /// - Parameter agentRole: only events of sessions of this role, plus the role-less events of
    ///   cleanup batches (`archive` or `end` with a `count`), which may concern it.
    /// - Returns: a sequence to iterate once. It throws `connectionLost` when its first connection
    ///   cannot be made, or the store is closed already; it never throws after that.
    public func events(agentRole: String? = nil) -> SessionEvents {
        SessionEvents(configuration: configuration, agentRole: agentRole, listeners: listeners)
    }
}

/// The live events of a `SessionStore`, from `events(agentRole:)`: iterate once, with `for try await`.
///
/// Owns the listening connection and its thread; dropping the sequence (and its iterator) stops them.
public struct SessionEvents: AsyncSequence, Sendable {
    /// The events, one per committed change.
    public typealias Element = SessionEvent

    private let subscription: Subscription

    init(configuration: ConnectionConfiguration, agentRole: String?, listeners: EventListeners) {
        subscription = Subscription(configuration: configuration, agentRole: agentRole, listeners: listeners)
    }

    /// The iterator; it ends (returns `nil`) when the consuming task is cancelled or the store closes.
    public struct AsyncIterator: AsyncIteratorProtocol {
        /// Keeps the listener running while the iterator is in use.
        private let subscription: Subscription
        private var base: AsyncThrowingStream<SessionEvent, any Error>.Iterator

        fileprivate init(subscription: Subscription) {
            self.subscription = subscription
            self.base = subscription.stream.makeAsyncIterator()
        }

        /// The next event, waiting for it; `nil` once the sequence has ended.
        public mutating func next() async throws -> SessionEvent? {
            try await base.next()
        }
    }

    /// Returns the iterator. Make only one: the events are delivered once.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(subscription: subscription)
    }

    /// Ties the listener's life to the sequence: when the last copy of the sequence and its
    /// iterator are gone, the listener stops.
    fileprivate final class Subscription: Sendable {
        let stream: AsyncThrowingStream<SessionEvent, any Error>
        private let listener: EventListener

        init(configuration: ConnectionConfiguration, agentRole: String?, listeners: EventListeners) {
            // Bounded, so that a consumer that stops reading cannot make memory grow without end.
            let (stream, continuation) = AsyncThrowingStream.makeStream(
                of: SessionEvent.self, throwing: (any Error).self, bufferingPolicy: .bufferingNewest(10_000)
            )
            self.stream = stream
            self.listener = EventListener(
                configuration: configuration, agentRole: agentRole, continuation: continuation, listeners: listeners
            )
        }

        deinit {
            listener.stop()
        }
    }
}
