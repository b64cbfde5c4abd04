#!/usr/bin/env bash
# Try --strategy multiworker as two worker processes on this machine (ports 23456/23457), on the
# tests' tiny configuration, sharing one experiment folder; prints each worker's log lines.
#   bash scripts/multiworker_local.sh DATA_DIR EXP_DIR MAX_ITERS
# Run it with MAX_ITERS 4, then 6 to see both workers resume from the chief's checkpoint 4; compare
# with `python3 main.py` on one device with the same flags and --max_iters 6.
set -u
data_dir=$1 exp_dir=$2 max_iters=$3
cd "$(dirname "$0")/.."
flags=(--data_dir "$data_dir" --exp_dir "$exp_dir" --split partition --image_size 16 --ngf 4 --ndf 4
       --n_blocks 1 --d_layers 2 --batch_size 4 --n_critic 1 --log_every 1 --save_every 2
       --sample_every 100000 --eval_every 100000 --max_iters "$max_iters")
logs=$(mktemp -d)
for index in 0 1; do
  TF_CONFIG="{\"cluster\": {\"worker\": [\"localhost:23456\", \"localhost:23457\"]}, \"task\": {\"type\": \"worker\", \"index\": $index}}" \
    python3 main.py --strategy multiworker "${flags[@]}" > "$logs/worker$index.out" 2> "$logs/worker$index.err" &
done
wait
for index in 0 1; do
  echo "== worker $index"
  grep -E "^(replicas|resuming|iter|training finished|error)" "$logs/worker$index.out" "$logs/worker$index.err" \
    | cut -d: -f2-
done
rm -rf "$logs"
