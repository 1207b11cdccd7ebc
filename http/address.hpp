#pragma once
#include <string>

namespace pacsnode::http {
// True for 127.0.0.0/8, ::1 and "localhost": binds that need no [[http.users]].
bool is_loopback(const std::string& address);
}  // namespace pacsnode::http
