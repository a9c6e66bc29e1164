# What Amazon's ec2-ami-tools 1.5.3 does with a manifest, in its own language and libraries (Ruby,
# REXML, OpenSSL), for tests of bundlefarm's output:
#  - ec2-migrate-manifest / ec2-bundle authenticate a manifest by re-parsing it with REXML, re-serializing
#    it (Document#to_s) and checking the RSA-SHA1 signature over the first <machine_configuration>…</…>
#    substring followed by the first <image>…</image> substring (manifestv20071010.rb, xmlutil.rb);
#  - ec2-unbundle decrypts user_encrypted_key/_iv with the user's key, PKCS#1 v1.5 (unbundle.rb).
# Usage: ruby ec2-ami-tools-check.rb MANIFEST USER_CERT [USER_KEY]   -> one line of JSON
require 'json'
require 'openssl'
require 'rexml/document'

xml = File.read(ARGV[0])
cert = OpenSSL::X509::Certificate.new(File.read(ARGV[1]))
doc = REXML::Document.new(xml)
text = doc.to_s

def section(s, tag)
  open_tag = "<#{tag}>"
  close_tag = "</#{tag}>"
  start = s.index(open_tag)
  return '' if start.nil?
  stop = s.index(close_tag, start)
  s[start...(stop + close_tag.length)]
end

signed = section(text, 'machine_configuration') + section(text, 'image')
signature = [REXML::XPath.first(doc, '/manifest/signature').text].pack('H*')
result = {
  'reserialized_identical' => text == xml,
  'authenticated' => cert.public_key.verify(OpenSSL::Digest::SHA1.new, signature, signed),
  'version' => REXML::XPath.first(doc, '/manifest/version').text,
  'parts' => REXML::XPath.match(doc, '/manifest/image/parts/part/filename').map(&:text)
}
if ARGV[2]
  key = OpenSSL::PKey::RSA.new(File.read(ARGV[2]))
  %w[user_encrypted_key user_encrypted_iv].each do |name|
    wrapped = [REXML::XPath.first(doc, "/manifest/image/#{name}").text].pack('H*')
    result[name] = key.private_decrypt(wrapped, OpenSSL::PKey::RSA::PKCS1_PADDING)
  end
end
puts JSON.generate(result)
