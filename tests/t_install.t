#!/bin/sh
# t_install.t - `make install` into a staging DESTDIR, then build a consumer
# against the installed header and libraries through pkg-config, as C and as
# C++, linked both shared and static, and run it. A real install (DESTDIR
# empty) says how the dynamic linker learns of the library; a staged one not.
build=${SHMKIT_BUILD:-build}
case $build in
    *asan* | *tsan* | *cov* | *fuzz*)
        echo "1..0 # SKIP install is checked in plain builds"; exit 77 ;;
esac
command -v pkg-config >/dev/null 2>&1 || { echo "1..0 # SKIP pkg-config missing"; exit 77; }
echo "1..11"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
n=0
check() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

# an earlier install with another prefix must not leave its shmkit.pc behind
make -s install BUILD="$build" DESTDIR="$stage/other" PREFIX=/opt/shmkit-other >"$stage/log" 2>&1 &&
    make -s install BUILD="$build" DESTDIR="$stage" PREFIX=/usr >>"$stage/log" 2>&1
rc=$?; [ $rc -eq 0 ] || sed 's/^/# /' "$stage/log"
check $rc "make install DESTDIR=... PREFIX=/usr (after PREFIX=/opt/shmkit-other)"
grep -qx 'prefix=/usr' "$stage/usr/lib/pkgconfig/shmkit.pc" &&
    ! grep -q shmkit-other "$stage/usr/lib/pkgconfig/shmkit.pc"
check $? "the installed shmkit.pc names the prefix of this install"
empty=$(find "$stage/usr/share/man" -type d -empty)
[ -z "$empty" ]
check $? "no empty man directory installed${empty:+: $empty}"

export PKG_CONFIG_SYSROOT_DIR="$stage" PKG_CONFIG_LIBDIR="$stage/usr/lib/pkgconfig"
cflags=$(pkg-config --cflags shmkit) && libs=$(pkg-config --libs shmkit)
check $? "pkg-config finds shmkit ($(pkg-config --modversion shmkit 2>/dev/null))"

cat >"$stage/consumer.c" <<'EOC'
#include <shmkit.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    shmkit_seg *seg = NULL;
    struct shmkit_opts o;
    memset(&o, 0, sizeof o);
    o.kind = SHMKIT_ANON;
    o.size = 4096;
    o.flags = SHMKIT_CREATE;
    int rc = shmkit_open(&seg, &o);
    if (rc < 0) {
        fprintf(stderr, "shmkit_open: %s\n", shmkit_strerror(rc));
        return 1;
    }
    strcpy((char *)shmkit_seg_data(seg), "installed");
    printf("%s %s\n", shmkit_version(), (char *)shmkit_seg_data(seg));
    return shmkit_close(seg) < 0;
}
EOC
cc -std=c11 -Wall -Wextra -Werror $cflags -o "$stage/consumer" "$stage/consumer.c" $libs 2>"$stage/err"
rc=$?; sed 's/^/# /' "$stage/err"
check $rc "a C11 consumer compiles and links against the shared library"
out=$(LD_LIBRARY_PATH="$stage/usr/lib" "$stage/consumer")
check $? "it runs: $out"
cc -std=c11 $cflags -o "$stage/consumer-static" "$stage/consumer.c" "$stage/usr/lib/libshmkit.a" -pthread -lrt &&
    "$stage/consumer-static" >/dev/null
check $? "static library links and runs"
if command -v c++ >/dev/null 2>&1; then
    cp "$stage/consumer.c" "$stage/consumer.cc"
    c++ -Wall -Wextra -Werror $cflags -o "$stage/consumer-cxx" "$stage/consumer.cc" $libs 2>"$stage/err"
    rc=$?; sed 's/^/# /' "$stage/err"
    check $rc "the header compiles as C++"
else
    echo "ok 8 # SKIP no C++ compiler"
fi

# ldconfig: a staged install leaves it to the package; a real install into
# a directory ld.so.conf does not name says so and does not run ldconfig.
! grep -i ldconfig "$stage/log"
check $? "a staged install (DESTDIR set) prints no ldconfig hint"
own=$stage/own
make -s install BUILD="$build" PREFIX="$own" LDCONFIG="touch $stage/ran-ldconfig" >"$stage/log2" 2>&1
rc=$?; [ $rc -eq 0 ] || sed 's/^/# /' "$stage/log2"
grep -q "^installed libshmkit.so.0 in $own/lib, a directory the dynamic linker does not search" "$stage/log2" &&
    grep -q "LD_LIBRARY_PATH=$own/lib" "$stage/log2"
check $? "make install PREFIX=STAGE/own (DESTDIR empty) says how to make ld.so find it"
[ $rc -eq 0 ] && [ ! -e "$stage/ran-ldconfig" ]
check $? "and runs no ldconfig for a directory ld.so.conf does not name"
