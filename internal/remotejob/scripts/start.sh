# Start: claim the job directory with mkdir (atomic), write the job from
# stdin, launch the wrapper in a session of its own, wait for its pid file.
# If the directory already exists the job was started before (a lost
# answer, a restart): report that job, never start a second one.
# With nostart=1 (Find) nothing is created or started: an existing job is
# reported, else "absent".
# Set before: id, size, base (empty: the default), nostart, linger (ticks),
# and for a linger the poll's oo, eo and max.
umask 077
if [ -z "$base" ]; then
	if [ -n "${HOME:-}" ]; then
		base=$HOME/.sirocco/jobs
	else
		base=${TMPDIR:-/tmp}/sirocco-jobs-$(id -u)
	fi
fi
if [ "$nostart" = 1 ]; then
	# Find: report the job if its directory exists, start nothing.
	[ -d "$base/$id" ] && [ ! -L "$base/$id" ] || say absent
else
	command -v setsid >/dev/null 2>&1 || fail "setsid not found on the remote host (install util-linux)"
	mkdir -p -- "$base" || fail "cannot create $base"
fi
[ -d "$base" ] && [ -O "$base" ] || fail "$base is not a directory owned by $(id -un)"
dir=$base/$id
state=existing
if [ "$nostart" != 1 ] && [ ! -e "$dir" ] && [ ! -L "$dir" ] && mkdir -- "$dir" 2>/dev/null; then
	state=started
fi
[ -d "$dir" ] && [ ! -L "$dir" ] || fail "cannot create $dir"
dir=$(cd -- "$dir" && pwd -P) || fail "cannot enter $dir"
marker="SIROCCO_REMOTE_JOB_DIR=$dir"
if [ "$state" = started ]; then
	printf 'sirocco-remotejob v1 %s\n' "$id" >"$dir/sirocco-job" || fail "cannot write in $dir"
	if ! cat >"$dir/job"; then
		rm -rf -- "$dir"
		fail "cannot write $dir/job"
	fi
	n=$(wc -c <"$dir/job")
	if [ "$((n))" -ne "$size" ]; then
		rm -rf -- "$dir"
		fail "the job arrived truncated: $((n)) of $size bytes"
	fi
	date +%s >"$dir/started"
	: >"$dir/stdout"
	: >"$dir/stderr"
	cat >"$dir/run" <<'WRAPPER'
# Sirocco remote job wrapper: the leader of the job's session. It records
# its pid, runs the job, and records the job's exit code (tmp + mv, so a
# reader sees all of it or nothing). SIGTERM to the group reaches the job;
# the wrapper itself waits for the job so that its exit code is kept.
dir=$SIROCCO_REMOTE_JOB_DIR
printf '%s\n' "$$" >"$dir/pid.tmp" && mv -f "$dir/pid.tmp" "$dir/pid" || exit 1
trap : TERM INT HUP
sh "$dir/job" </dev/null >>"$dir/stdout" 2>>"$dir/stderr"
code=$?
printf '%s\n' "$code" >"$dir/exit.tmp" && mv -f "$dir/exit.tmp" "$dir/exit"
WRAPPER
	SIROCCO_REMOTE_JOB_DIR=$dir setsid sh "$dir/run" </dev/null >/dev/null 2>&1 &
elif [ ! -O "$dir" ]; then
	fail "$dir exists and is not this job's directory"
fi
i=0
while [ ! -s "$dir/pid" ]; do
	i=$((i + 1))
	[ "$i" -le 2000 ] || fail "the job in $dir did not start: no pid file after 10s"
	sleep 0.005
done
if [ "$(cat "$dir/sirocco-job" 2>/dev/null)" != "sirocco-remotejob v1 $id" ]; then
	fail "$dir exists and is not this job's directory"
fi
pid=$(cat "$dir/pid")
[ "$linger" -gt 0 ] || say "$state $pid $(cat "$dir/started") $dir"
# Linger (StartQuick): wait up to linger ticks of 5 ms for a short job to
# end, answer the start, then a first poll (poll.sh follows this part), so
# that a short job costs one call.
i=0
while [ ! -f "$dir/exit" ] && [ "$i" -lt "$linger" ]; do
	sleep 0.005
	i=$((i + 1))
done
printf 'sirocco-remotejob v1 %s %s %s %s\n' "$state" "$pid" "$(cat "$dir/started")" "$dir"
