/* placeholder */ typedef int vmk_placeholder_;
