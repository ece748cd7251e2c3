# ec_plugin.m4: one plugin's configure switch, dependency check, automake conditional
# and summary line (docs/packaging.md, "Adding a plugin to configure").
#
# EC_PLUGIN(NAME, KIND, [SUMMARY-NOTE], [VAR, PKG-MODULES, DEBIAN-DEV-PACKAGE])
#
#   --enable-NAME / --disable-NAME. Without PKG-MODULES the plugin needs nothing beyond
#   the core's own dependencies and is built unless --disable-NAME. With them the
#   default is "when found": PKG_CHECK_MODULES(VAR, PKG-MODULES) substitutes VAR_CFLAGS
#   and VAR_LIBS; when not found the plugin is left out (the summary says why), unless
#   --enable-NAME asked for it: then configure fails naming the Debian package.
#   Defines the automake conditional BUILD_<NAME> (upper case, '-' as '_'), adds NAME to
#   EC_PLUGINS_BUILT or EC_PLUGINS_DISABLED (both substituted; the tests read the
#   latter), and a line to the summary (EC_PLUGIN_SUMMARY, printed at the end).
#   SUMMARY-NOTE is shown in that line when the plugin is built, e.g. "libssh2".
#
# Examples:
#   EC_PLUGIN([local], [transport])
#   EC_PLUGIN([ssh], [transport], [libssh2], [SSH2], [libssh2 >= 1.10], [libssh2-1-dev])
AC_DEFUN([EC_PLUGIN], [
m4_pushdef([EC_P_ID], m4_translit([$1], [-], [_]))
m4_pushdef([EC_P_COND], [BUILD_]m4_toupper(EC_P_ID))
AC_ARG_ENABLE([$1],
  [AS_HELP_STRING([--disable-$1],
    m4_ifval([$5], [[do not build the $1 $2 plugin ($5) @<:@default: if found@:>@]],
      [[do not build the $1 $2 plugin @<:@default: build it@:>@]]))],
  [], [enable_[]EC_P_ID=auto])
ec_plugin_why=
AS_CASE([$enable_[]EC_P_ID],
  [no], [ec_plugin_why="--disable-$1"],
  [yes|auto], [],
  [AC_MSG_ERROR([--enable-$1=$enable_[]EC_P_ID: expected yes or no])])
m4_ifval([$5], [
AS_IF([test "x$ec_plugin_why" = x], [
  PKG_CHECK_MODULES([$4], [$5], [], [
    AS_IF([test "x$enable_[]EC_P_ID" = xyes],
      [AC_MSG_ERROR([--enable-$1: the $1 plugin needs $5, not found: install the Debian package $6 or configure with --disable-$1 (pkg-config said: $$4_PKG_ERRORS)])])
    ec_plugin_why="$5 not found (Debian package $6)"
  ])
])])
AM_CONDITIONAL(EC_P_COND, [test "x$ec_plugin_why" = x])
AS_IF([test "x$ec_plugin_why" = x],
  [EC_PLUGINS_BUILT="${EC_PLUGINS_BUILT:+$EC_PLUGINS_BUILT }$1"
   ec_plugin_line="yes[]m4_ifval([$3], [ ($3)])"],
  [EC_PLUGINS_DISABLED="${EC_PLUGINS_DISABLED:+$EC_PLUGINS_DISABLED }$1"
   ec_plugin_line="no: $ec_plugin_why"])
EC_PLUGIN_SUMMARY="$EC_PLUGIN_SUMMARY
    m4_format([%-8s %-10s], [$1], [$2]) $ec_plugin_line"
AC_SUBST([EC_PLUGINS_BUILT])
AC_SUBST([EC_PLUGINS_DISABLED])
m4_popdef([EC_P_COND])
m4_popdef([EC_P_ID])
])
