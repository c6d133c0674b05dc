# Shared by every remotejob script. Set before this part: dir (the job's
# absolute directory) and, for the scripts that look at processes, pid (its
# process group id). POSIX sh; ps from procps (or a BSD ps).

# fail reports why the script gave up, on stderr, where Go picks it up.
fail() {
	printf 'sirocco-remotejob: %s\n' "$*" >&2
	exit 90
}

# say prints the one answer line and ends the script.
say() {
	printf 'sirocco-remotejob v1 %s\n' "$*"
	exit 0
}

marker="SIROCCO_REMOTE_JOB_DIR=$dir"

# ours_pid: does process $1 belong to this job? Every process of the job
# inherits the marker variable; on Linux /proc shows the environment a
# process started with. Elsewhere only the wrapper can be recognised, by
# its command line.
ours_pid() {
	if [ -r "/proc/$1/environ" ]; then
		tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qxF -e "$marker"
		return
	fi
	case $(ps -o args= -p "$1" 2>/dev/null) in
	*"$dir/run"*) return 0 ;;
	esac
	return 1
}

# members lists the live (not zombie) processes of group $pid.
members() {
	ps -e -o pid= -o pgid= -o stat= 2>/dev/null |
		awk -v g="$pid" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

group_exists() {
	[ -n "$(members)" ]
}

# group_ours: is group $pid still this job's? A pid is not reused while
# its group lives, so one member with the marker proves the group is ours.
group_ours() {
	for p in $(members); do
		if ours_pid "$p"; then
			return 0
		fi
	done
	return 1
}

need_ps() {
	command -v ps >/dev/null 2>&1 || fail "ps not found on the remote host (install procps)"
}
