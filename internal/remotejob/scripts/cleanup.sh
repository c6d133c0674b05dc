# Cleanup: remove the job's directory, only if it is one (the marker file
# names this job) and nothing of the job runs any more.
# Set before: id.
need_ps
[ -e "$dir" ] || [ -L "$dir" ] || say gone
[ -d "$dir" ] && [ ! -L "$dir" ] && [ "$(cat "$dir/sirocco-job" 2>/dev/null)" = "sirocco-remotejob v1 $id" ] ||
	fail "$dir is not the directory of job $id: not removed"
if group_exists && group_ours; then
	# The wrapper writes the exit file just before it ends: a cleanup right
	# after the exit code was read gives it a moment (up to 1 s).
	i=0
	while [ -f "$dir/exit" ] && [ "$i" -lt 50 ] && group_exists; do
		sleep 0.02
		i=$((i + 1))
	done
	if group_exists && group_ours; then
		say running
	fi
fi
rm -rf -- "$dir" || fail "cannot remove $dir"
say removed
