#!/bin/bash
# run-node.sh start|stop HOME PORT  -- a single-node OpenSearch 2.19.6 for tests
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=$1 home=$(realpath -m "$2") port=${3:-19200}
case $cmd in
start)
  mkdir -p "$home"
  # -XX:-UsePerfData: no hsperfdata; tmpdir under home: nothing left in /tmp
  nohup java -Xms512m -Xmx512m -XX:+UseG1GC -XX:-UsePerfData -Djava.io.tmpdir="$home" \
    -Dlog4j2.formatMsgNoLookups=true -Dopensearch.set.netty.runtime.available.processors=false \
    -cp "$here/all/*:$here/classes" FenghuoSearchNode "$home" "$port" $((port + 100)) \
    > "$home/node.log" 2>&1 &
  echo $! > "$home/node.pid"
  # ready: the main has set cluster.default_number_of_replicas=0 (printed after it) and health is green
  for _ in $(seq 1 480); do
    if grep -qs "fenghuo-search-node started" "$home/node.log" &&
      curl -fs -o /dev/null "http://127.0.0.1:$port/_cluster/health?wait_for_status=green&timeout=1s"; then exit 0; fi
    kill -0 "$(cat "$home/node.pid")" 2>/dev/null || { tail -50 "$home/node.log"; exit 1; }
    sleep 0.25
  done
  echo "not ready in 120 s"; exit 1 ;;
stop)
  pid=$(cat "$home/node.pid"); kill -TERM "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.25; done
  kill -KILL "$pid"; exit 1 ;;
esac
