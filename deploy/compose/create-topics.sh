#!/usr/bin/env bash
# Create every topic a postsale app uses, with the project's partition count and configs.
# Runs in the apache/kafka image (kafka-topics.sh); idempotent. Also usable by hand against any
# cluster: BOOTSTRAP_SERVER=broker:9092 [COMMAND_CONFIG=client.properties] bash create-topics.sh
#
# All topics of one app share one partition count: Faust co-locates equal partition numbers of
# the topics an app reads, so that one worker owns all of an order's events. An existing topic
# with another partition count is an error, never "fixed" here (repartitioning moves keys).
set -euo pipefail

BOOTSTRAP_SERVER=${BOOTSTRAP_SERVER:-kafka:9092}
APP_ID=${POSTSALE_APP_ID:-postsale}
PARTITIONS=${POSTSALE_PARTITIONS:-8}
RF=${POSTSALE_REPLICATION_FACTOR:-1}
KAFKA_BIN=${KAFKA_BIN:-/opt/kafka/bin}
# With three or more replicas a write needs two in sync (acks=all); with fewer, one.
if [ "$RF" -ge 3 ]; then MIN_ISR=2; else MIN_ISR=1; fi

DAY_MS=86400000
EXTRA=()
if [ -n "${COMMAND_CONFIG:-}" ]; then EXTRA=(--command-config "$COMMAND_CONFIG"); fi

# name partitions configs...
create() {
  local name=$1 partitions=$2
  shift 2
  local args=(--bootstrap-server "$BOOTSTRAP_SERVER" "${EXTRA[@]}")
  local configs=(--config "min.insync.replicas=$MIN_ISR")
  for c in "$@"; do configs+=(--config "$c"); done
  "$KAFKA_BIN/kafka-topics.sh" "${args[@]}" --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor "$RF" "${configs[@]}"
  local actual
  actual=$("$KAFKA_BIN/kafka-topics.sh" "${args[@]}" --describe --topic "$name" |
    sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n 1)
  if [ "$actual" != "$partitions" ]; then
    echo "topic $name has $actual partitions, postsale needs $partitions" >&2
    exit 1
  fi
  echo "topic $name: $partitions partitions, replication $RF, $*"
}

# Inputs: keep 7 days, enough to replay after an outage or rebuild state.
create "${POSTSALE_TOPIC_ORDERS:-orders}" "$PARTITIONS" cleanup.policy=delete "retention.ms=$((7 * DAY_MS))"
create "${POSTSALE_TOPIC_SHIPMENTS:-shipments}" "$PARTITIONS" cleanup.policy=delete "retention.ms=$((7 * DAY_MS))"
create "${POSTSALE_TOPIC_DISPUTES:-disputes}" "$PARTITIONS" cleanup.policy=delete "retention.ms=$((7 * DAY_MS))"
# Outputs: 30 days for executors that were down and for audits.
create "${POSTSALE_TOPIC_ACTIONS:-actions}" "$PARTITIONS" cleanup.policy=delete "retention.ms=$((30 * DAY_MS))"
create "${POSTSALE_TOPIC_DEAD_LETTER:-postsale-dead-letter}" "$PARTITIONS" cleanup.policy=delete "retention.ms=$((30 * DAY_MS))"
# Clock ticks are only useful while fresh.
create "${POSTSALE_TOPIC_TICKS:-postsale-ticks}" "$PARTITIONS" cleanup.policy=delete retention.ms=3600000
# Faust's own topics. It creates them itself when POSTSALE_CREATE_TOPICS is true; created here so
# that a cluster where an admin owns topics (POSTSALE_CREATE_TOPICS=false) has them too.
# The table changelog is compacted: it is the state, never delete it by age.
create "$APP_ID-orders-changelog" "$PARTITIONS" cleanup.policy=compact
create "$APP_ID-__assignor-__leader" 1 cleanup.policy=delete
# The executor's (`postsale execute`): its dead letters, kept 30 days like the actions; the outcome of
# every action and the refunds held for a person are compacted (the latest record per action is its memory).
create "${POSTSALE_EXECUTOR_TOPIC_FAILED:-actions.failed}" "$PARTITIONS" cleanup.policy=delete "retention.ms=$((30 * DAY_MS))"
create "${POSTSALE_EXECUTOR_TOPIC_OUTCOMES:-postsale-executor-outcomes}" "$PARTITIONS" cleanup.policy=compact
create "${POSTSALE_EXECUTOR_TOPIC_HELD:-postsale-executor-held}" "$PARTITIONS" cleanup.policy=compact
# Who released or dropped a held refund, and why: the audit trail, kept a year.
create "${POSTSALE_EXECUTOR_TOPIC_AUDIT:-postsale-audit}" "$PARTITIONS" cleanup.policy=delete "retention.ms=$((365 * DAY_MS))"
