; DLS lab test payload: a 512-byte MBR that proves a SAN boot reached the disk and that writes go through.
;
; Serial protocol on COM1 (0x3F8, direct UART writes, CRLF line ends); the same text also goes to the screen
; through INT 10h so SeaBIOS' sercon mirror (COM2) shows it too:
;   DLS-BOOT-OK
;   DLS-LABEL:<text>              LBA 1 as a NUL-terminated ASCII string, printed verbatim
;   DLS-COUNT=<n>                 LBA 2: magic 'DLSCOUNT' then a little-endian u32, printed in DECIMAL
;   DLS-WRITE-OK                  after n+1 was written to LBA 2 (INT 13h AH=43h) and read back (AH=42h)
;   DLS-WRITE-ERR ah=<hh>         write failed; <hh> is the INT 13h status in hex (04 = read-only LUN)
;   DLS-READ-ERR ah=<hh>          a read failed
;   DLS-COUNT-BADMAGIC            LBA 2 has no magic: nothing is written
;   DLS-END                       last line of the report; then the idle loop below
;   DLS-READ-ERR ah=<hh>          after DLS-END: a read of the idle loop failed; the payload then halts (cli/hlt)
;
; Idle loop: like a running OS, the payload keeps using its disk. About once a second (18 timer ticks) it reads LBA 1
; through INT 13h, which also lets iPXE poll its NIC and keep the iSCSI connection alive.
;
; Relies on entry at 0000:7C00 with DL = boot drive and on the INT 13h extensions (iPXE's SAN drive has them).
; Build: nasm -f bin -o boot.bin boot.asm

bits 16
org 0x7c00

BUF     equ 0x7e00                      ; one sector buffer right after the MBR
COM1    equ 0x3f8

start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7c00
        sti
        cld
        mov [drive], dl

        mov si, msg_boot
        call puts

        mov byte [dap_lba], 1           ; label sector
        call read
        mov si, BUF
        call puts
        mov si, crlf
        call puts

        mov byte [dap_lba], 2           ; counter sector
        call read
        cmp dword [BUF], 'DLSC'
        jne bad_magic
        cmp dword [BUF + 4], 'OUNT'
        jne bad_magic
        mov si, msg_count
        call puts
        mov eax, [BUF + 8]
        call putdec
        mov si, crlf
        call puts

        mov ebp, [BUF + 8]
        inc ebp
        mov [BUF + 8], ebp
        mov si, msg_werr
        mov ah, 0x43                    ; extended write, AL = 0: no verify
        call disk
        mov dword [BUF + 8], 0          ; clobber so the check below sees what the disk returns
        call read
        mov si, msg_werr
        cmp [BUF + 8], ebp
        mov ah, 0xee                    ; read-back mismatch is reported as ah=EE
        jne fail
        mov si, msg_wok
        call puts
        jmp done

bad_magic:
        mov si, msg_magic
        call puts
done:
        mov si, msg_end
        call puts
        mov byte [idling], 1
idle:
        sti
        mov cx, 18
.tick:  hlt
        loop .tick
        mov byte [dap_lba], 1
        call read
        jmp idle
halt:
        cli
        hlt
        jmp halt

; read: LBA [dap_lba] into BUF, reports DLS-READ-ERR on failure
read:
        mov si, msg_rerr
        mov ah, 0x42
; disk: INT 13h extended function AH with the DAP; on CF=1 print [si] + status and stop
disk:
        mov al, 0
        mov dl, [drive]
        push si
        mov si, dap
        mov word [si + 2], 1            ; the BIOS may rewrite the count on error
        int 0x13
        pop si
        jc fail
        ret
fail:
        push ax
        call puts
        pop ax
        mov al, ah
        push ax
        shr al, 4
        call hexnib
        pop ax
        and al, 0x0f
        call hexnib
        mov si, crlf
        call puts
        cmp byte [idling], 0
        jne halt
        jmp done

hexnib:                                 ; AL = 0..15 -> '0'..'9','A'..'F'
        cmp al, 10
        sbb al, 0x69
        das
        jmp putc

putdec:                                 ; EAX unsigned, decimal
        xor cx, cx
        mov ebx, 10
.div:   xor edx, edx
        div ebx
        push dx
        inc cx
        test eax, eax
        jnz .div
.out:   pop ax
        add al, '0'
        call putc
        loop .out
        ret

puts:                                   ; DS:SI NUL-terminated
        lodsb
        test al, al
        jz .ret
        call putc
        jmp puts
.ret:   ret

putc:                                   ; AL to COM1 (polling LSR THRE) and to the screen
        pushad
        mov cl, al
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        mov dx, COM1
        mov al, cl
        out dx, al
        mov ah, 0x0e
        mov bx, 0x0007
        int 0x10
        popad
        ret

msg_boot   db 'DLS-BOOT-OK'
crlf       db 13, 10, 0
msg_count  db 'DLS-COUNT=', 0
msg_wok    db 'DLS-WRITE-OK', 13, 10, 0
msg_werr   db 'DLS-WRITE-ERR ah=', 0
msg_rerr   db 'DLS-READ-ERR ah=', 0
msg_magic  db 'DLS-COUNT-BADMAGIC', 13, 10, 0
msg_end    db 'DLS-END', 13, 10, 0
idling     db 0

drive      db 0x80
dap:       db 0x10, 0                   ; size, reserved
           dw 1                         ; sector count
           dw BUF, 0                    ; offset, segment
dap_lba:   dd 0, 0                      ; 64-bit LBA

code_end:
        times 446 - ($ - $$) db 0       ; fails to assemble if the code outgrows the boot code area
        times 510 - ($ - $$) db 0       ; no partition table: iPXE and SeaBIOS boot an MBR without one
        dw 0xaa55
