# llm-sessions. Two commands set everything up on a fresh machine:
#   make demo   installs what is missing, starts the local PostgreSQL, migrates, runs the demo
#   make test   the same setup, then the SQL suite and the Swift suite
# With DATABASE_URL (or PG* variables) set, everything uses that server instead.

SWIFT_BUILD_FLAGS ?=
CLI := .build/debug/llm-sessions

.PHONY: all setup db-start db-stop db-reset migrate psql demo demo-sql build test test-sql test-swift test-reliability bench clean

all: build

setup:
	@scripts/setup.sh

db-start: setup
	@scripts/db.sh start

db-stop:
	@scripts/db.sh stop

db-reset:
	@scripts/db.sh reset

migrate: db-start
	@scripts/migrate.sh

psql: db-start
	@scripts/db.sh psql

build:
	swift build $(SWIFT_BUILD_FLAGS)

# The CLI reads DATABASE_URL (else PG*): hand it the server the scripts use.
demo: migrate build
	@DATABASE_URL="$$(scripts/db.sh conninfo)" $(CLI) demo

demo-sql: migrate
	@scripts/demo-sql.sh

test: migrate test-sql test-swift

test-sql: migrate
	@scripts/test-sql.sh

test-swift: migrate
	swift test $(SWIFT_BUILD_FLAGS)

# Load, crash and fault tests: bounded in time, loopback and unix socket only.
test-reliability: migrate build
	@SWIFT_BUILD_FLAGS='$(SWIFT_BUILD_FLAGS)' scripts/test-reliability.sh

bench: migrate
	@scripts/bench.sh

clean:
	rm -rf .build .bench
