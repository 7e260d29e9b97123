#include "greet.h"

int greet_twice(int x) { return GREET_FACTOR * x; }
