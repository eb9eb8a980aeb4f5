#!/usr/bin/env bash
# The seed's verification, driven by psql alone: a session is created in one
# connection and continued in others, as separate processes would do.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

q() { llm_psql -qAt "$@"; }   # each call is a new connection, like a new process

echo "1. create a session (connection 1)"
sid=$(q -c "SELECT llm.create_session('ceo', 'You are the CEO of a small software company.', metadata => '{\"demo\": true}')->>'session_id'")
echo "   session_id: $sid"

echo "2. first turn (connection 2)"
q -v sid="$sid" <<'SQL'
SELECT format('   turn %s stored; turn_count %s, total_tokens %s', r->>'seq', r->>'turn_count', r->>'total_tokens')
FROM llm.append_turn(:'sid', 'What is my role as CEO?',
                     'You set the direction, hire the team and make sure the company does not run out of money.', 795) r;
SQL

echo "3. second turn, continuing the same session (connection 3)"
q -v sid="$sid" <<'SQL'
SELECT format('   turn %s stored; turn_count %s -> %s, total_tokens %s -> %s',
              r->>'seq', (r->>'turn_count')::int - 1, r->>'turn_count',
              (r->>'total_tokens')::int - (r->>'tokens')::int, r->>'total_tokens')
FROM llm.append_turn(:'sid', 'What should I focus on this quarter?',
                     'Ship the session store, and measure it.', 215) r;
SQL

echo "4. read the whole history back (connection 4)"
q -v sid="$sid" <<'SQL'
SELECT format('   #%s [%s tokens] Q: %s | A: %s', t->>'seq', t->>'tokens', t->>'question', left(t->>'response', 50))
FROM jsonb_array_elements(llm.get_session(:'sid')->'conversation_history') t;
SQL

echo "5. cleanup (connection 5): sessions idle for more than an hour are removed"
q -c "SELECT format('   cleanup_stale removed %s stale session(s)', llm.cleanup_stale('1 hour'))"
q -v sid="$sid" <<'SQL'
SELECT format('   end_session(%s) -> %s (the demo removes its own session)', :'sid', llm.end_session(:'sid'));
SQL
