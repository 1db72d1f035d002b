# CodeAlchemy prelude for Bash: sourced on the first line of an instrumented script.
# It speaks the trace protocol of tracer/wire.py on the fd named by CODEALCHEMY_TRACE_FD.
#
# Layout of a traced run:
#   supervisor  the bash started by the runtime: it points the script's stdout and stderr at
#               two files in /tmp, re-runs the script as a child ("$BASH" "$0" "$@"), then
#               copies whatever output is left and exits with the child's status.
#   child       runs the script; every probe first copies the new output of the two files to
#               the real stdout/stderr (and to the channel as `o` records), so output and
#               events keep their true order at statement granularity.
# Probes (called by the rewritten script, always as `probe ... && :` so that `set -e` never
# fires inside them and the status they hand back is the caller's `$?`, unchanged):
#   __ca_l PROBE SCOPE          line event; SCOPE names the array __ca_V<SCOPE> of variables
#   __ca_c PROBE SCOPE "$@"     call event (pushes a frame)
#   __ca_r PROBE [ARGS...]      return event (pops the frame); value = `return`'s argument or $?
#   __ca_cap FUNC ARGS...       wraps `$(FUNC ARGS...)`: the return value is the text FUNC
#                               printed (what the command substitution yields)
# Without CODEALCHEMY_TRACE_FD every probe is a no-op that keeps $?.

__ca_l() { return; }
__ca_c() { return; }
__ca_r() { return; }
__ca_cap() { "$@"; }

if [[ -n ${CODEALCHEMY_TRACE_FD-} ]]; then
if [[ -z ${__CA_CHILD-} ]]; then
  # ---- supervisor -------------------------------------------------------------------------
  __ca_t=${TMPDIR:-/tmp}/.codealchemy.$$
  exec {__ca_so}>&1 {__ca_se}>&2 {__ca_wo}>>"$__ca_t.1" {__ca_we}>>"$__ca_t.2"
  exec {__ca_ro}<"$__ca_t.1" {__ca_re}<"$__ca_t.2"
  command rm -f -- "$__ca_t.1" "$__ca_t.2" 2>/dev/null  # open, so nothing is left behind
  __CA_CHILD="$__ca_so $__ca_se $__ca_ro $__ca_re" "$BASH" "$0" "$@" >&"$__ca_wo" 2>&"$__ca_we" {__ca_wo}>&- {__ca_we}>&-
  __ca_st=$?
  __ca_fd=$CODEALCHEMY_TRACE_FD
  __ca_out() {
    local IFS= __ca_lines __ca_s
    mapfile -u "$1" __ca_lines
    ((${#__ca_lines[@]})) || return 0
    __ca_s="${__ca_lines[*]}"
    printf '%s' "$__ca_s" >&"$2"
    __ca_s=${__ca_s//\\/\\\\}; __ca_s=${__ca_s//$'\t'/\\t}; __ca_s=${__ca_s//$'\n'/\\n}; __ca_s=${__ca_s//$'\r'/\\r}
    printf 'o\t%s\t%s\n' "$3" "$__ca_s" >&"$__ca_fd"
  }
  __ca_out "$__ca_ro" "$__ca_so" 1
  __ca_out "$__ca_re" "$__ca_se" 2
  exit "$__ca_st"
fi
# ---- child: the traced program -------------------------------------------------------------
read -r __ca_so __ca_se __ca_ro __ca_re <<<"$__CA_CHILD"
unset __CA_CHILD
__ca_fd=$CODEALCHEMY_TRACE_FD
__ca_me=${CODEALCHEMY_MAX_EVENTS:-100000}
__ca_mv=${CODEALCHEMY_MAX_VALUE:-200}
__ca_on=1       # recording
__ca_ne=0       # events written by this process (subshells count on from their parent's)
__ca_sub=$BASH_SUBSHELL  # subshell level of the process that owns this state
__ca_fr=1       # current frame id; top-level code is frame 1
__ca_dp=0       # depth
__ca_lp=0       # last probe seen in the current frame
__ca_cf=0       # the current frame is a call captured by __ca_cap
__ca_seq=1      # frame ids handed out by this process
__ca_base=0
__ca_main=$BASHPID  # the script's process; a subshell's frame ids are (BASHPID - this)*100000 + n
__ca_stk=()     # saved (frame, last probe, captured) of the callers
__ca_sp0=0      # stack height when this process started (frames below belong to the parent)
__ca_capdp=-1   # depth of the call that __ca_cap is about to make
__ca_pend=      # "PROBE FRAME DEPTH" of a captured call's return, written by __ca_cap
# The value last sent of a scalar is in __ca_K<FRAME>_<NAME>, of "$#" and "$N" in __ca_P<FRAME>_n
# and __ca_P<FRAME>_<N>: plain variables, not an associative array, which `declare -A` would list.

__ca_emit() {  # one record, fields already escaped
  if ((__ca_ne >= __ca_me)); then
    printf 't\tmax_events\n' >&"$__ca_fd"
    __ca_on=
    return 1
  fi
  __ca_ne=$((__ca_ne + 1))
  printf '%s\n' "$1" >&"$__ca_fd"
}

__ca_esc() {  # escape __ca_s for the channel
  [[ $__ca_s == *[\\$'\t\n\r']* ]] || return 0
  __ca_s=${__ca_s//\\/\\\\}; __ca_s=${__ca_s//$'\t'/\\t}; __ca_s=${__ca_s//$'\n'/\\n}; __ca_s=${__ca_s//$'\r'/\\r}
}

__ca_q() {  # append "value" (declare -p style double quotes) of $1 to __ca_s
  local __ca_v=$1
  if [[ $__ca_v == *[\\\"\$\`]* ]]; then
    __ca_v=${__ca_v//\\/\\\\}; __ca_v=${__ca_v//\"/\\\"}; __ca_v=${__ca_v//\$/\\\$}; __ca_v=${__ca_v//\`/\\\`}
  fi
  __ca_s+="\"$__ca_v\""
}

__ca_cut() {  # truncate __ca_s to the value limit
  if ((${#__ca_s} > __ca_mv)); then __ca_s="${__ca_s:0:__ca_mv-1}…"; fi
}

__ca_sc() {  # a scalar that changed: NAME VALUE; appends "\tNAME\tRENDERED" to __ca_p
  printf -v "__ca_K${__ca_fr}_$1" '%s' "$2"
  __ca_s=
  if [[ ${!1@a} == *i* ]]; then __ca_s=$2; else __ca_q "$2"; fi
  ((${#__ca_s} > __ca_mv)) && __ca_cut
  __ca_esc
  __ca_p+=$'\t'"$1"$'\t'"$__ca_s"
}

__ca_pos() {  # the positional parameters of a scope that shifts them: "$#" and "$1"...
  local __ca_i __ca_v __ca_k=__ca_P${__ca_fr}_n
  if [[ ${!__ca_k-x} != "$#" ]]; then printf -v "$__ca_k" '%s' "$#"; __ca_p+=$'\t$#\t'"$#"; fi
  for ((__ca_i = 1; __ca_i <= $#; __ca_i++)); do
    __ca_v=${!__ca_i}
    __ca_k=__ca_P${__ca_fr}_$__ca_i
    if [[ ${!__ca_k-$'\1'} != "$__ca_v" ]]; then
      printf -v "$__ca_k" '%s' "$__ca_v"
      __ca_s=; __ca_q "$__ca_v"; __ca_cut; __ca_esc
      __ca_p+=$'\t$'"$__ca_i"$'\t'"$__ca_s"
    fi
  done
}

__ca_arr() {  # an array NAME: appends "\tNAME\t(...)" to __ca_p; big arrays cost their head only
  local -n __ca_r=$1
  local __ca_at=${__ca_r[0]@a} __ca_k __ca_ncm= __ca_i
  local __ca_n=${#__ca_r[@]} __ca_dense=1
  if shopt -q nocasematch; then shopt -u nocasematch; __ca_ncm=1; fi
  __ca_s="("
  if [[ $__ca_at == *A* ]]; then
    for __ca_k in "${!__ca_r[@]}"; do
      ((${#__ca_s} > __ca_mv)) && break
      [[ $__ca_s == "(" ]] || __ca_s+=" "
      __ca_s+="["
      if [[ -z $__ca_k || $__ca_k == *[!A-Za-z0-9_.-]* ]]; then __ca_q "$__ca_k"; else __ca_s+=$__ca_k; fi
      __ca_s+="]="
      __ca_q "${__ca_r[$__ca_k]}"
    done
  else
    # dense (indices 0..n-1) as far as it is shown: element by element, never the whole array
    for ((__ca_i = 0; __ca_i < __ca_n && ${#__ca_s} <= __ca_mv; __ca_i++)); do
      if [[ ! -v __ca_r[__ca_i] ]]; then __ca_dense=0; break; fi
      ((__ca_i)) && __ca_s+=" "
      if [[ $__ca_at == *i* || ${__ca_r[__ca_i]} != *[\\\"\$\`]* ]]; then
        [[ $__ca_at == *i* ]] && __ca_s+=${__ca_r[__ca_i]} || __ca_s+="\"${__ca_r[__ca_i]}\""
      else
        __ca_q "${__ca_r[__ca_i]}"
      fi
    done
    if ((__ca_dense)); then
      ((__ca_i < __ca_n)) && __ca_s+=" …"
    else
      __ca_s="("
      for __ca_k in "${!__ca_r[@]}"; do
        ((${#__ca_s} > __ca_mv)) && break
        [[ $__ca_s == "(" ]] || __ca_s+=" "
        __ca_s+="[$__ca_k]="
        if [[ $__ca_at == *i* ]]; then __ca_s+=${__ca_r[$__ca_k]}; else __ca_q "${__ca_r[$__ca_k]}"; fi
      done
    fi
  fi
  __ca_s+=")"
  __ca_cut
  __ca_esc
  __ca_p+=$'\t'"$1"$'\t'"$__ca_s"
  [[ -z $__ca_ncm ]] || shopt -s nocasematch
}

__ca_out() {  # new output: $1 the first byte already read, $2 reader fd, $3 real fd, $4 stream
  local IFS= __ca_lines
  mapfile -u "$2" __ca_lines
  __ca_s="$1${__ca_lines[*]}"
  printf '%s' "$__ca_s" >&"$3"
  [[ $4 == 2 ]] && __ca_last_err=$__ca_s
  if [[ -n $__ca_on ]]; then __ca_esc; printf 'o\t%s\t%s\n' "$4" "$__ca_s" >&"$__ca_fd"; fi
}

__ca_flush() {  # copy new program output to the real stdout/stderr and the channel
  IFS= read -r -N 1 -u "$__ca_ro" __ca_x && __ca_out "$__ca_x" "$__ca_ro" "$__ca_so" 1
  IFS= read -r -N 1 -u "$__ca_re" __ca_x && __ca_out "$__ca_x" "$__ca_re" "$__ca_se" 2
  return 0
}

__ca_newproc() {  # first probe in a subshell: it reports as a frame of its own
  __ca_sub=$BASH_SUBSHELL
  __ca_base=$(((BASHPID - __ca_main) * 100000))
  __ca_seq=0
  __ca_fr=$__ca_base
  __ca_sp0=${#__ca_stk[@]}
  __ca_uexit=
  builtin trap '__ca_atexit' EXIT
}

__ca_push() {  # enter a new frame (call probe $1)
  __ca_stk+=("$__ca_fr" "$__ca_lp" "$__ca_cf")
  __ca_seq=$((__ca_seq + 1))
  __ca_fr=$((__ca_base + __ca_seq))
  __ca_dp=$((__ca_dp + 1))
  __ca_lp=$1
  __ca_cf=0
  if ((__ca_capdp == __ca_dp)); then __ca_cf=1; __ca_capdp=-1; fi
}

__ca_pop() {
  __ca_fr=${__ca_stk[-3]}
  __ca_lp=${__ca_stk[-2]}
  __ca_cf=${__ca_stk[-1]}
  unset '__ca_stk[-1]' '__ca_stk[-1]' '__ca_stk[-1]'
  __ca_dp=$((__ca_dp - 1))
}

__ca_l() {  # PROBE SCOPE: the rewriter defines __ca_v<SCOPE>, which fills __ca_p
  __ca_st=$?
  [[ -n $__ca_on ]] || return $__ca_st
  [[ $BASH_SUBSHELL == "$__ca_sub" ]] || __ca_newproc
  IFS= read -r -N 1 -u "$__ca_ro" __ca_x && __ca_out "$__ca_x" "$__ca_ro" "$__ca_so" 1
  IFS= read -r -N 1 -u "$__ca_re" __ca_x && __ca_out "$__ca_x" "$__ca_re" "$__ca_se" 2
  __ca_lp=$1
  __ca_p=
  if [[ -o nounset ]]; then set +u; "__ca_v$2" "${@:3}"; set -u; else "__ca_v$2" "${@:3}"; fi
  if ((__ca_ne < __ca_me)); then  # __ca_emit, inlined: this is the hot path
    __ca_ne=$((__ca_ne + 1))
    printf 'l\t%s\t%s\t%s%s\n' "$1" "$__ca_fr" "$__ca_dp" "$__ca_p" >&"$__ca_fd"
  else
    __ca_emit
  fi
  return $__ca_st
}

__ca_c() {
  __ca_st=$?
  [[ -n $__ca_on ]] || return $__ca_st
  [[ $BASH_SUBSHELL == "$__ca_sub" ]] || __ca_newproc
  __ca_flush
  __ca_push "$1"
  __ca_p=
  local __ca_i
  for ((__ca_i = 3; __ca_i <= $#; __ca_i++)); do
    __ca_s=; __ca_q "${!__ca_i}"; __ca_cut; __ca_esc
    __ca_p+=$'\t$'"$((__ca_i - 2))"$'\t'"$__ca_s"
  done
  [[ -n $__ca_on ]] && __ca_emit "c	$1	$__ca_fr	$__ca_dp$__ca_p"
  return $__ca_st
}

__ca_r() {
  __ca_st=$?
  [[ -n $__ca_on ]] || return $__ca_st
  [[ $BASH_SUBSHELL == "$__ca_sub" ]] || __ca_newproc
  if ((${#__ca_stk[@]} > __ca_sp0)); then
    __ca_flush
    __ca_x=$__ca_st
    (($# > 1)) && __ca_x=$2
    __ca_s=${__ca_x#-}  # a number is masked like `return` does (no =~ here: it would set BASH_REMATCH)
    if [[ -n $__ca_s && $__ca_s != *[!0-9]* && ${#__ca_s} -lt 19 ]]; then
      if [[ $__ca_x == -* ]]; then __ca_x=$(((-10#$__ca_s) & 255)); else __ca_x=$((10#$__ca_s & 255)); fi
    fi
    if ((__ca_cf)); then
      __ca_pend="$1 $__ca_fr $__ca_dp"
    else
      [[ -n $__ca_on ]] && __ca_emit "r	$1	$__ca_fr	$__ca_dp	$__ca_x"
    fi
    __ca_pop
  fi
  return $__ca_st
}

__ca_cap() {
  [[ -n $__ca_on ]] || { "$@"; return; }
  [[ $BASH_SUBSHELL == "$__ca_sub" ]] || __ca_newproc
  __ca_flush
  __ca_capdp=$((__ca_dp + 1))
  local __ca_x __ca_st __ca_t= __ca_s
  __ca_x=$("$@"; printf '\n\035%s %s' "$?" "$__ca_pend")
  __ca_st=$?
  __ca_capdp=-1
  if [[ $__ca_x == *$'\n\035'* ]]; then
    __ca_t=${__ca_x##*$'\n\035'}
    __ca_x=${__ca_x%$'\n\035'*}
    __ca_st=${__ca_t%% *}
    __ca_t=${__ca_t#* }
  fi
  printf '%s' "$__ca_x"
  if [[ -n $__ca_t && -n $__ca_on ]]; then
    while [[ $__ca_x == *$'\n' ]]; do __ca_x=${__ca_x%$'\n'}; done
    __ca_s=; __ca_q "$__ca_x"; __ca_cut; __ca_esc
    local IFS=' '
    set -- $__ca_t
    __ca_emit "r	$1	$2	$3	$__ca_s"
  fi
  return "$__ca_st"
}

__ca_atexit() {  # the script or a subshell is exiting: unwind the frames it still holds
  local __ca_st=$? __ca_cmd=$BASH_COMMAND __ca_ty= __ca_msg __ca_o=$-
  set +eu
  __ca_flush
  [[ -n $__ca_on ]] || { __ca_user_exit "$__ca_st"; return; }
  if ((__ca_st)); then
    if [[ -n ${__ca_ex-} ]]; then
      __ca_ty=exit; __ca_msg="exit status $__ca_st"
    elif [[ $__ca_o == *e* ]]; then
      __ca_ty=errexit; __ca_msg="'$__ca_cmd' failed with status $__ca_st"
    elif [[ ${__ca_last_err-} == *": line "*": "* ]]; then
      __ca_ty=error; __ca_msg=${__ca_last_err%$'\n'}; __ca_msg=${__ca_msg##*$'\n'}; __ca_msg=${__ca_msg#*: line *: }
    fi
  fi
  local __ca_s
  while ((${#__ca_stk[@]} > __ca_sp0)); do
    if [[ -n $__ca_ty ]]; then
      __ca_s=$__ca_msg; __ca_esc
      __ca_emit "x	$__ca_lp	$__ca_fr	$__ca_dp	$__ca_ty	$__ca_s" || break
    fi
    __ca_emit "r	$__ca_lp	$__ca_fr	$__ca_dp" || break
    __ca_pop
  done
  if [[ -n $__ca_ty && $__ca_ty != exit && $__ca_fr == 1 ]]; then
    __ca_s=$__ca_msg; __ca_esc
    __ca_emit "x	$__ca_lp	$__ca_fr	$__ca_dp	$__ca_ty	$__ca_s"
  fi
  __ca_user_exit "$__ca_st"
}

__ca_user_exit() {  # the program's own EXIT trap, run after the unwinding with $? as it was
  [[ -n ${__ca_uexit-} ]] || return "$1"
  [[ $__ca_o == *u* ]] && set -u
  __ca_setst "$1"
  eval "$__ca_uexit"
}
__ca_setst() { return "$1"; }

# `trap ... EXIT` of the program: kept in __ca_uexit and run by __ca_atexit, so that both run.
trap() {
  if (($# == 1)) && [[ $1 == EXIT || $1 == 0 || $1 == SIGEXIT ]]; then
    __ca_uexit=
    return 0
  fi
  if (($# >= 2)) && [[ $1 != -[lp] ]]; then
    local __ca_h __ca_a __ca_exit=0 __ca_rest=()
    [[ $1 == -- ]] && shift
    __ca_h=$1
    shift
    for __ca_a in "$@"; do
      case $__ca_a in EXIT | 0 | SIGEXIT | exit) __ca_exit=1 ;; *) __ca_rest+=("$__ca_a") ;; esac
    done
    if ((__ca_exit)); then
      [[ -z $__ca_on || $BASH_SUBSHELL == "$__ca_sub" ]] || __ca_newproc
      builtin trap '__ca_atexit' EXIT
      if [[ $__ca_h == - ]]; then __ca_uexit=; else __ca_uexit=$__ca_h; fi
      ((${#__ca_rest[@]})) || return 0
    fi
    builtin trap -- "$__ca_h" "${__ca_rest[@]}"
    return
  fi
  builtin trap "$@"
}
__ca_uexit=
builtin trap '__ca_atexit' EXIT
fi
