#define FAST_EXTRA 2
