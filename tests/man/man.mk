# make man-check: the man pages (man/) lint clean and cover every config
# key, outpostctl command and option; the bash completion
# (packaging/bash-completion/outpostctl) loads and agrees with outpostctl
# --help. Needs mandoc (scripts/setup.sh installs it).
.PHONY: man-check
man-check: $(BUILD)/outpostctl
	@BUILD=$(BUILD) tests/man/check.sh
	@BUILD=$(BUILD) bash tests/man/test_completion.sh
