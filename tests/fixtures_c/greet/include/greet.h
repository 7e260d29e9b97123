/* Reached only through the module's incdirs ("include"). */
#ifndef GREET_H
#define GREET_H
#define GREET_FACTOR 2
int greet_twice(int x);
#endif
