package restore

import "syscall"

// oDirect makes restore's writes of new files bypass the page cache: the
// kernel then neither copies every byte into it nor holds gigabytes of
// dirty pages for the final fsync.
const oDirect = syscall.O_DIRECT
