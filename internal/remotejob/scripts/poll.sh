# Poll: the job's state, then the sizes of its output files, then the new
# bytes of each from the given offsets (at most max each). The exit file is
# read before the sizes, so an exited job's output is complete.
# Set before: oo, eo (offsets), max.
cd -- "$dir" 2>/dev/null || say "gone 0 0 0 0 0"
state=running
code=0
if [ -f exit ]; then
	state=exited
elif ! ours_pid "$pid"; then
	# The wrapper may have written the file just before it ended.
	if [ -f exit ]; then state=exited; else state=lost; fi
fi
if [ "$state" = exited ]; then
	code=$(cat exit)
	case $code in
	'' | *[!0-9]*) code=bad ;;
	esac
fi
os=$(wc -c <stdout) && es=$(wc -c <stderr) || fail "cannot read the output of $dir"
os=$((os)) es=$((es))
on=$((os - oo)) en=$((es - eo))
[ "$on" -gt "$max" ] && on=$max
[ "$en" -gt "$max" ] && en=$max
[ "$on" -lt 0 ] && on=0
[ "$en" -lt 0 ] && en=0
printf 'sirocco-remotejob v1 %s %s %s %s %s %s\n' "$state" "$code" "$os" "$es" "$on" "$en"
if [ "$on" -gt 0 ]; then tail -c +"$((oo + 1))" stdout | head -c "$on"; fi
if [ "$en" -gt 0 ]; then tail -c +"$((eo + 1))" stderr | head -c "$en"; fi
