# Stop: SIGTERM to the job's process group, up to the grace period (ticks
# of 0.1s) for it to end, then SIGKILL. Nothing is signalled unless a member
# of the group carries the job's marker (the pid may have been reused).
# Set before: ticks.
need_ps
group_exists || say gone
group_ours || say not_ours
kill -s TERM -- "-$pid" 2>/dev/null
i=0
while [ "$i" -lt "$ticks" ]; do
	group_exists || say terminated
	sleep 0.1
	i=$((i + 1))
done
group_exists || say terminated
group_ours || say terminated
kill -s KILL -- "-$pid" 2>/dev/null
i=0
while group_exists; do
	i=$((i + 1))
	[ "$i" -le 250 ] || fail "process group $pid survived SIGKILL for 5s"
	sleep 0.02
done
# The wrapper died with the job: record the kill as its exit code, unless
# it wrote one (ln does not overwrite).
if [ -d "$dir" ] && [ ! -f "$dir/exit" ]; then
	printf '137\n' >"$dir/exit.stop" && ln "$dir/exit.stop" "$dir/exit" 2>/dev/null
	rm -f -- "$dir/exit.stop"
fi
say killed
