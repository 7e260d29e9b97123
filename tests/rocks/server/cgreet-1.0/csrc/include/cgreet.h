#define CGREET_MARK "!"
