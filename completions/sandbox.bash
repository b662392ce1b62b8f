# bash completion for sandbox(1).
# Installed by `make install` as $(PREFIX)/share/bash-completion/completions/sandbox,
# where bash-completion loads it on first use; or source it from ~/.bashrc.
# Needs nothing of bash-completion's own, but uses its _command_offset, when
# loaded, to complete the program's arguments after `sandbox run [...] --`.

_sandbox_files() {
	compopt -o filenames 2>/dev/null
	local IFS=$'\n'
	COMPREPLY=($(compgen -f -- "$1"))
}

# _sandbox_log completes --log's FILE, or - for stderr.
_sandbox_log() {
	_sandbox_files "$1"
	[[ - == "$1"* ]] && COMPREPLY+=(-)
}

_sandbox() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmds="run check policy version help agent oci-profile"
	COMPREPLY=()

	# --flag=value: bash splits it at = (COMP_WORDBREAKS) into --flag, =
	# and value.
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi

	if ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		return 0
	fi

	case ${COMP_WORDS[1]} in
	run)
		# Where the program starts: after --, or at the first word that
		# is neither a flag nor a flag's value (the flag package stops
		# there too).
		local i=2 prog=0 w
		while ((i < COMP_CWORD)); do
			w=${COMP_WORDS[i]}
			case $w in
			--)
				prog=$((i + 1))
				break
				;;
			--policy | -policy | --net | -net | --dns | -dns | --log | -log | --learn | -learn)
				if [[ ${COMP_WORDS[i+1]} == = ]]; then
					((i += 3))
				else
					((i += 2))
				fi
				continue
				;;
			-*) ;;
			*)
				prog=$i
				break
				;;
			esac
			((i++))
		done
		# A word begun that is not a flag and not a flag's value is the
		# program (on an empty word, the flags are offered).
		if ((prog == 0)) && [[ -n $cur && $cur != -* ]]; then
			case $prev in
			--policy | -policy | --learn | -learn | --log | -log | --net | -net | --dns | -dns) ;;
			*) prog=$COMP_CWORD ;;
			esac
		fi
		if ((prog > 0)); then
			if declare -F _command_offset >/dev/null; then
				_command_offset "$prog"
			elif ((prog == COMP_CWORD)) && [[ $cur != */* ]]; then
				COMPREPLY=($(compgen -c -- "$cur"))
			else
				_sandbox_files "$cur"
			fi
			return 0
		fi
		case $prev in
		--policy | -policy | --learn | -learn)
			_sandbox_files "$cur"
			return 0
			;;
		--log | -log)
			_sandbox_log "$cur"
			return 0
			;;
		--net | -net)
			COMPREPLY=($(compgen -W "sandbox host none" -- "$cur"))
			return 0
			;;
		--dns | -dns)
			return 0 # an address: nothing to offer
			;;
		esac
		COMPREPLY=($(compgen -W "--policy --net --dns --log --learn --quiet --help --" -- "$cur"))
		;;
	check)
		_sandbox_log "$cur" # files, and - (stdin)
		;;
	policy)
		((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W "default" -- "$cur"))
		;;
	help)
		((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		;;
	agent | oci-profile)
		case $prev in
		--socket | -socket | --policy | -policy | --base | -base)
			_sandbox_files "$cur"
			return 0
			;;
		--log | -log)
			_sandbox_log "$cur"
			return 0
			;;
		--policy-dir | -policy-dir)
			compopt -o filenames 2>/dev/null
			local IFS=$'\n'
			COMPREPLY=($(compgen -d -- "$cur"))
			return 0
			;;
		--metadata | -metadata)
			return 0 # free text: nothing to offer
			;;
		esac
		if [[ ${COMP_WORDS[1]} == agent ]]; then
			COMPREPLY=($(compgen -W "--socket --policy --policy-dir --log --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--socket --metadata --base --help" -- "$cur"))
		fi
		;;
	esac
	return 0
}

complete -F _sandbox sandbox
