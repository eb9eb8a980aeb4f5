import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions demo`: the seed's verification, a session created in one process and continued in another.
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a session here, continue it in a second process, read it back, clean up.",
            discussion: """
                Step 1 creates a "ceo" session and stores a first turn (795 tokens). Step 2 runs \
                `llm-sessions demo --continue <id>` as a separate process, which finds the session \
                and stores a second turn (215 tokens): turn count 1 → 2, total tokens 795 → 1010. \
                Step 3 reads the history back in the first process and checks those numbers. \
                Step 4 ends the demo session and runs cleanup with --max-idle (default 1h), \
                which removes only sessions idle that long.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .customLong("continue"), help: ArgumentHelp(
            "Step 2 only: find this session and append the second turn (the demo runs this itself).",
            valueName: "session-id"))
        var continueID: String?

        @Flag(help: "Keep the demo session instead of ending it.")
        var keep = false

        @Option(name: .customLong("max-idle"), help: ArgumentHelp(
            "Idle time for step 4's cleanup: only sessions idle longer are removed.", valueName: "duration"))
        var maxIdle = IdleDuration(seconds: 3600)

        func validate() throws { try requireText(continueID, "--continue") }

        func run() async throws {
            if let continueID {
                try await continueStory(continueID)
            } else {
                try await story()
            }
        }

        // MARK: Step 2, in the second process

        private func continueStory(_ sessionID: String) async throws {
            let pid = ProcessInfo.processInfo.processIdentifier
            let report = try await connection.withStore { store -> ContinuationReport in
                guard let before = try await store.session(sessionID) else {
                    throw SessionStoreError.notFound(sessionID: sessionID)
                }
                let appended = try await store.appendTurn(
                    to: sessionID, question: DemoScript.secondQuestion, response: DemoScript.secondResponse,
                    tokens: DemoScript.secondTokens, metadata: DemoScript.turnMetadata(step: 2),
                    expectedTurnCount: before.turnCount)
                return ContinuationReport(
                    pid: pid, sessionID: sessionID, turnsFound: before.conversationHistory.count,
                    rememberedQuestion: before.conversationHistory.last?.question,
                    turnCountBefore: before.turnCount, turnCountAfter: appended.turnCount,
                    totalTokensBefore: before.totalTokens, totalTokensAfter: appended.totalTokens)
            }
            if connection.json {
                try Output.printJSON(report)
                return
            }
            print("Step 2 (process \(pid), a separate process): continue the session")
            var found = "session found: \(plural(report.turnsFound, "turn")) preserved"
            if let question = report.rememberedQuestion { found += ", last question \"\(question)\"" }
            print("  " + found)
            print(keyValueLines([
                ("question", DemoScript.secondQuestion),
                ("turn count", "\(report.turnCountBefore) → \(report.turnCountAfter)"),
                ("total tokens", "\(report.totalTokensBefore) → \(report.totalTokensAfter)"),
            ], indent: "  "))
        }

        // MARK: Steps 1, 3 and 4, in the first process

        private func story() async throws {
            let pid = ProcessInfo.processInfo.processIdentifier
            try await connection.withStore { store in
                let created = try await store.createSession(
                    agentRole: DemoScript.role, startupContext: DemoScript.startupContext,
                    metadata: ["source": "llm-sessions demo"])
                let sessionID = created.sessionID
                do {
                    try await runSteps(store: store, sessionID: sessionID, pid: pid)
                } catch {
                    // Never leave a demo session behind because a later step failed.
                    if !keep { _ = try? await store.endSession(sessionID) }
                    throw error
                }
            }
        }

        private func runSteps(store: SessionStore, sessionID: String, pid: Int32) async throws {
            let first = try await store.appendTurn(
                to: sessionID, question: DemoScript.firstQuestion, response: DemoScript.firstResponse,
                tokens: DemoScript.firstTokens, metadata: DemoScript.turnMetadata(step: 1), expectedTurnCount: 0)
            if !connection.json {
                print("Step 1 (process \(pid)): create a session for role \"\(DemoScript.role)\" and store the first turn")
                print(keyValueLines([
                    ("session id", sessionID),
                    ("question", DemoScript.firstQuestion),
                    ("turn count", "\(first.turnCount)"),
                    ("total tokens", "\(first.totalTokens)"),
                ], indent: "  "))
                print()
            }

            let (childPID, childOutput) = try runSecondProcess(sessionID: sessionID)
            var continuation: ContinuationReport?
            if connection.json {
                continuation = try? JSONDecoder().decode(ContinuationReport.self, from: childOutput)
            } else {
                // Through print, not FileHandle: it shares stdout's buffer with everything printed before.
                print(String(decoding: childOutput, as: UTF8.self))
            }

            guard let session = try await store.session(sessionID) else {
                throw SessionStoreError.notFound(sessionID: sessionID)
            }
            let expectedTokens = Int64(DemoScript.firstTokens + DemoScript.secondTokens)
            let verified = session.turnCount == 2 && session.totalTokens == expectedTokens
                && session.conversationHistory.map(\.tokens) == [DemoScript.firstTokens, DemoScript.secondTokens]
            if !connection.json {
                print("Step 3 (process \(pid)): read the full history back")
                print(historyTable(session.conversationHistory).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
                print(verified
                    ? "  verified: \(session.turnCount) turns and \(session.totalTokens) tokens, written by two processes"
                    : "  NOT verified: expected 2 turns and \(expectedTokens) tokens, found \(session.turnCount) and \(session.totalTokens)")
                print()
            }
            guard verified else {
                if connection.json { try Output.printJSON(DemoReport(session: session, verified: false)) }
                throw ExitCode(Failure.software)
            }

            var report = DemoReport(
                session: session, verified: true, firstProcess: pid, secondProcess: childPID,
                continuation: continuation)
            if !connection.json { print("Step 4 (process \(pid)): clean up") }
            if keep {
                if !connection.json { print("  kept the demo session (--keep): llm-sessions end \(sessionID)") }
            } else {
                report.ended = try await store.endSession(sessionID)
                if !connection.json { print("  ended the demo session \(sessionID)") }
            }
            do {
                let cleanup = try await store.cleanupStale(maxIdle: maxIdle.duration)
                report.cleanupRemoved = cleanup.removed
                if !connection.json {
                    print("  cleanup (max idle \(maxIdle)) removed \(plural(cleanup.removed, "other stale session"))")
                }
            } catch SessionStoreError.server(let error) where error.sqlState == "42501" {
                report.cleanupSkipped = "permission denied: cleanup needs llm_admin"
                if !connection.json { print("  cleanup skipped: this role may not run it (needs llm_admin)") }
            }
            if connection.json { try Output.printJSON(report) }
        }

        /// Runs `llm-sessions demo --continue <id>` as a separate process and returns its pid and stdout.
        private func runSecondProcess(sessionID: String) throws -> (Int32, Data) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: selfExecutablePath())
            process.arguments = ["demo", "--continue", sessionID] + (connection.json ? ["--json"] : [])
            var environment = ProcessInfo.processInfo.environment
            // The connection string goes through the environment, not argv, so a password stays out of `ps`.
            if let url = connection.databaseURL { environment["DATABASE_URL"] = url }
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationReason == .exit, process.terminationStatus == 0 else {
                print(String(decoding: data, as: UTF8.self), terminator: "")
                Failure.printError(["step 2 (process \(process.processIdentifier)) failed with status \(process.terminationStatus)"])
                throw ExitCode(process.terminationStatus == 0 ? Failure.software : process.terminationStatus)
            }
            return (process.processIdentifier, data)
        }
    }
}

/// The demo conversation: the seed's CEO session, 795 tokens then 215.
enum DemoScript {
    static let role = "ceo"
    static let startupContext = """
        You are the CEO of a small company run by AI agents. You set strategy, allocate the budget \
        and coordinate the CTO, CFO and product agents.
        """
    static let firstQuestion = "What is my role as CEO?"
    static let firstResponse = """
        As CEO you set the company's direction: you decide strategy and priorities, allocate budget and \
        people across the other agents, approve the decisions that commit the company, and answer for \
        the results. Day to day you turn goals into clear assignments for the CTO, CFO and product agents \
        and resolve conflicts between them.
        """
    static let firstTokens = 795
    static let secondQuestion = "Given that role, what should I decide first this quarter?"
    static let secondResponse = """
        Start with the budget, the lever your role gives you first: agree the quarter's priorities with \
        the CFO, then give each agent one budget and one measurable goal, and review them every two weeks.
        """
    static let secondTokens = 215

    static func turnMetadata(step: Int) -> JSONValue {
        ["source": "llm-sessions demo", "pid": .integer(Int64(ProcessInfo.processInfo.processIdentifier)), "step": .integer(Int64(step))]
    }
}

/// What step 2 reports (and prints as JSON with --json).
struct ContinuationReport: Codable {
    var pid: Int32
    var sessionID: String
    var turnsFound: Int
    var rememberedQuestion: String?
    var turnCountBefore: Int
    var turnCountAfter: Int
    var totalTokensBefore: Int64
    var totalTokensAfter: Int64

    enum CodingKeys: String, CodingKey {
        case pid
        case sessionID = "session_id"
        case turnsFound = "turns_found"
        case rememberedQuestion = "remembered_question"
        case turnCountBefore = "turn_count_before"
        case turnCountAfter = "turn_count_after"
        case totalTokensBefore = "total_tokens_before"
        case totalTokensAfter = "total_tokens_after"
    }
}

/// What `demo --json` prints.
struct DemoReport: Encodable {
    var session: Session
    var verified: Bool
    var firstProcess: Int32?
    var secondProcess: Int32?
    var continuation: ContinuationReport?
    var ended = false
    var cleanupRemoved: Int?
    var cleanupSkipped: String?

    enum CodingKeys: String, CodingKey {
        case session, verified, continuation, ended
        case firstProcess = "first_process"
        case secondProcess = "second_process"
        case cleanupRemoved = "cleanup_removed"
        case cleanupSkipped = "cleanup_skipped"
    }
}
