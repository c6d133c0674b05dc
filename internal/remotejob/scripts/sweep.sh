# Sweep: before a call's own work, remove the directories of ended jobs
# whose cleanup was folded into the call (Sweeper). Each is checked as
# Cleanup checks it (cleanup.sh, as sweep_one, in a subshell of its own:
# its answer or failure ends only that one), and answers exactly one line
# before the call's own answer, whatever happens:
#   sirocco-remotejob v1 swept removed|gone|running <job id>
#   sirocco-remotejob v1 swept failed <job id> <reason>
# Arguments: the directory, process group id and job id of each job.
while [ "$#" -ge 3 ]; do
	w=$(sweep_one "$1" "$2" "$3" </dev/null 2>&1)
	case $w in
	"sirocco-remotejob v1 removed" | "sirocco-remotejob v1 gone" | "sirocco-remotejob v1 running")
		printf 'sirocco-remotejob v1 swept %s %s\n' "${w#sirocco-remotejob v1 }" "$3"
		;;
	*)
		why=$(printf '%s' "${w#sirocco-remotejob: }" | tr -c ' -~' ' ' | cut -c1-200)
		printf 'sirocco-remotejob v1 swept failed %s %s\n' "$3" "${why:-no explanation}"
		;;
	esac
	shift 3
done
